// fuzz_spf_macro: the RFC 7208 §7 macro expander (policy/spf/macro.hpp) against a plain reference.
//
// Input: a flags byte (domain-spec or explanation use, IPv4 or IPv6 client), 4 or 16 address bytes, then
// sections separated by "\n%%\n": the macro string, sender, local-part, sender domain, domain, helo, ptr
// name, receiver.
// Invariants: the syntax check and the expansion agree (a string the check accepts expands, unless the
// output would pass kMaxExpansion; one it refuses does not expand); an accepted expansion equals what a
// straightforward, slow reading of §7.3 gives (split on the delimiters, reverse, keep the right-most parts,
// join with dots, URL-escape for upper-case letters); errors are printable ASCII; expand_domain_spec()
// shortens from the left only; uses_ptr_macro() finds every %{p}.
#include "fuzz_common.hpp"

#include "policy/spf/macro.hpp"

#include <algorithm>
#include <optional>

namespace spf = spfgate::spf;

namespace {

std::string nibbles(const spfgate::IpAddress& a) {
  if (a.is_v4()) return a.to_string();
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char b : a.to_v6().to_bytes()) {
    if (!out.empty()) out += '.';
    out += hex[b >> 4];
    out += '.';
    out += hex[b & 15];
  }
  return out;
}

// §7.3, read literally: O(n^2) and allocation-happy, which is fine for a reference.
std::optional<std::string> reference_expand(std::string_view text, spf::MacroUse use, const spf::MacroValues& v) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (++i >= text.size()) return std::nullopt;
    if (text[i] == '%') { out += '%'; continue; }
    if (text[i] == '_') { out += ' '; continue; }
    if (text[i] == '-') { out += "%20"; continue; }
    if (text[i] != '{' || ++i >= text.size()) return std::nullopt;
    const char letter = text[i];
    const char lower = static_cast<char>(letter >= 'A' && letter <= 'Z' ? letter - 'A' + 'a' : letter);
    std::string value;
    switch (lower) {
      case 's': value = v.sender; break;
      case 'l': value = v.local_part; break;
      case 'o': value = v.sender_domain; break;
      case 'd': value = v.domain; break;
      case 'h': value = v.helo; break;
      case 'p': value = v.ptr_name.empty() ? "unknown" : std::string(v.ptr_name); break;
      case 'r': value = v.receiver.empty() ? "unknown" : std::string(v.receiver); break;
      case 'v': value = v.client.is_v4() ? "in-addr" : "ip6"; break;
      case 'i': value = nibbles(v.client); break;
      case 'c': value = v.client.to_string(); break;
      case 't': value = std::to_string(v.timestamp); break;
      default: return std::nullopt;
    }
    if (use == spf::MacroUse::DomainSpec && (lower == 'c' || lower == 'r' || lower == 't')) return std::nullopt;
    ++i;
    std::size_t keep = 0;
    bool digits = false;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      digits = true;
      keep = std::min<std::size_t>(keep * 10 + static_cast<std::size_t>(text[i] - '0'), 1u << 20);
      ++i;
    }
    if (digits && keep == 0) return std::nullopt;
    bool reverse = false;
    if (i < text.size() && (text[i] == 'r' || text[i] == 'R')) reverse = true, ++i;
    std::string delimiters;
    while (i < text.size() && std::string_view(".-+,/_=").find(text[i]) != std::string_view::npos) delimiters += text[i++];
    if (i >= text.size() || text[i] != '}') return std::nullopt;
    if (delimiters.empty()) delimiters = ".";
    std::vector<std::string> parts{""};
    for (char x : value) {
      if (delimiters.find(x) != std::string::npos) parts.emplace_back();
      else parts.back() += x;
    }
    if (reverse) std::reverse(parts.begin(), parts.end());
    if (keep != 0 && keep < parts.size()) parts.erase(parts.begin(), parts.end() - static_cast<std::ptrdiff_t>(keep));
    std::string joined;
    for (std::size_t k = 0; k < parts.size(); ++k) joined += (k ? "." : "") + parts[k];
    if (letter != lower) {
      std::string escaped;
      for (char x : joined) {
        const bool unreserved = (x >= '0' && x <= '9') || (x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') ||
                                x == '-' || x == '.' || x == '_' || x == '~';
        if (unreserved) {
          escaped += x;
        } else {
          static constexpr char hex[] = "0123456789ABCDEF";
          escaped += '%';
          escaped += hex[static_cast<unsigned char>(x) >> 4];
          escaped += hex[static_cast<unsigned char>(x) & 15];
        }
      }
      joined = escaped;
    }
    out += joined;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::uint8_t flags = in.byte();
  const spf::MacroUse use = flags & 1 ? spf::MacroUse::Explanation : spf::MacroUse::DomainSpec;
  spf::MacroValues v;
  if (flags & 2) {
    boost::asio::ip::address_v6::bytes_type b{};
    for (auto& x : b) x = in.byte();
    v.client = boost::asio::ip::address_v6(b);
  } else {
    boost::asio::ip::address_v4::bytes_type b{};
    for (auto& x : b) x = in.byte();
    v.client = boost::asio::ip::address_v4(b);
  }
  const std::string text(in.section());
  const std::string sender(in.section()), local(in.section()), sender_domain(in.section()), domain(in.section()),
      helo(in.section()), ptr(in.section()), receiver(in.section());
  v.sender = sender;
  v.local_part = local;
  v.sender_domain = sender_domain;
  v.domain = domain;
  v.helo = helo;
  v.ptr_name = ptr;
  v.receiver = receiver;
  v.timestamp = 1234567890;

  const auto syntax_error = spf::check_macro_string(text, use);
  if (syntax_error) FUZZ_CHECK(!syntax_error->empty() && fuzz::is_printable_ascii(*syntax_error), *syntax_error);
  std::string out, why;
  const bool expanded = spf::expand_macros(text, use, v, out, &why);
  const auto reference = reference_expand(text, use, v);
  if (syntax_error) {
    FUZZ_CHECK(!expanded, text);
    FUZZ_CHECK(fuzz::is_printable_ascii(why), why);
  } else if (!expanded) {
    FUZZ_CHECK(why.rfind("Macro expansion exceeds", 0) == 0, why);
    FUZZ_CHECK(reference && reference->size() > spf::kMaxExpansion, text);
  } else {
    FUZZ_CHECK(out.size() <= spf::kMaxExpansion, out);
    FUZZ_CHECK(reference.has_value(), text);
    FUZZ_CHECK(*reference == out, "got \"" + fuzz::escaped(out) + "\", reference \"" + fuzz::escaped(*reference) + "\" for \"" + fuzz::escaped(text) + "\"");
  }

  // %{p} detection: the reference reading of "uses %{p}".
  bool has_p = false;
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (text[i + 1] == '{' && (text[i + 2] == 'p' || text[i + 2] == 'P')) has_p = true;
    ++i;
  }
  FUZZ_CHECK(spf::uses_ptr_macro(text) == has_p, text);

  if (use == spf::MacroUse::DomainSpec) {
    const auto spec_error = spf::check_domain_spec(text);
    if (spec_error) FUZZ_CHECK(fuzz::is_printable_ascii(*spec_error), *spec_error);
    if (!spec_error) FUZZ_CHECK(!syntax_error, text);  // a domain-spec is a macro-string
    std::string name;
    if (!spec_error && spf::expand_domain_spec(text, v, name, &why)) {
      // Only whole labels are removed from the left, and only from an over-long name.
      std::string full = out;
      if (!full.empty() && full.back() == '.') full.pop_back();
      FUZZ_CHECK(full.size() >= name.size(), name);
      FUZZ_CHECK(full.compare(full.size() - name.size(), name.size(), name) == 0, name);
      if (full.size() <= spf::kMaxDomainLength) FUZZ_CHECK(full == name, name);
      else if (name.size() < full.size()) FUZZ_CHECK(full[full.size() - name.size() - 1] == '.', name);
    }
  }
  return 0;
}
