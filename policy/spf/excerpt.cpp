#include "policy/spf/excerpt.hpp"

namespace spfgate::spf {

std::string excerpt(std::string_view text, std::size_t max) {
  static constexpr char hex[] = "0123456789abcdef";
  constexpr std::string_view ellipsis = "...";
  std::string out;
  out.reserve(text.size() < max ? text.size() : max);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const std::size_t need = (u >= 0x20 && u <= 0x7E) ? 1 : 4;
    if (out.size() + need > max) {
      // Make room for the ellipsis within the bound.
      while (!out.empty() && out.size() + ellipsis.size() > max) out.pop_back();
      out.append(ellipsis);
      return out;
    }
    if (need == 1) {
      out.push_back(c);
    } else {
      out.append("\\x");
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xF]);
    }
  }
  return out;
}

}  // namespace spfgate::spf
