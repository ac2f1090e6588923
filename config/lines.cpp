#include "config/lines.hpp"

#include "common/text.hpp"
#include "config/error.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace spfgate::config {

std::vector<ConfigLine> read_config_lines(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw Error(path, 0, {}, "cannot read the " + what + ": " + std::strerror(errno));
  std::vector<ConfigLine> out;
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    if (raw.find('\0') != std::string::npos) throw Error(path, number, {}, "NUL byte in line");
    std::string_view text = raw;
    if (auto hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
    text = trim(text);
    if (!text.empty()) out.push_back({std::string(text), number});
  }
  return out;
}

}  // namespace spfgate::config
