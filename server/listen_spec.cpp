#include "server/listen_spec.hpp"

#include "common/ip.hpp"
#include "config/error.hpp"

#include <charconv>

namespace spfgate::server {

namespace {

[[noreturn]] void bad(std::string_view text, const std::string& why) {
  throw config::Error({}, 0, "listen", "'" + std::string(text) + "': " + why);
}

std::uint16_t parse_port(std::string_view text, std::string_view port) {
  unsigned n = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (ec != std::errc() || ptr != port.data() + port.size() || n == 0 || n > 65535) bad(text, "bad port");
  return static_cast<std::uint16_t>(n);
}

}  // namespace

ListenSpec parse_listen(std::string_view text) {
  ListenSpec spec;
  spec.text = std::string(text);
  if (text.rfind("unix:", 0) == 0) {
    spec.kind = ListenSpec::Kind::Unix;
    std::string_view rest = text.substr(5);
    const auto comma = rest.find(',');
    spec.path = std::string(rest.substr(0, comma));
    if (spec.path.empty() || spec.path.front() != '/') bad(text, "the socket path must be absolute");
    if (spec.path.size() >= 108) bad(text, "the socket path is too long (at most 107 bytes)");
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    while (!rest.empty()) {
      const auto next = rest.find(',');
      const std::string_view item = rest.substr(0, next);
      rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
      const auto eq = item.find('=');
      if (eq == std::string_view::npos) bad(text, "expected key=value, found '" + std::string(item) + "'");
      const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
      if (key == "mode") {
        unsigned m = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), m, 8);
        if (ec != std::errc() || ptr != value.data() + value.size() || m > 0777) bad(text, "mode must be octal, e.g. 0660");
        spec.mode = static_cast<mode_t>(m);
      } else if (key == "owner" || key == "user") {
        spec.owner = std::string(value);
      } else if (key == "group") {
        spec.group = std::string(value);
      } else {
        bad(text, "unknown setting '" + std::string(key) + "' (mode, owner, group)");
      }
    }
    return spec;
  }
  if (text.rfind("tcp:", 0) == 0 || text.rfind("inet:", 0) == 0) {
    spec.kind = ListenSpec::Kind::Tcp;
    std::string_view rest = text.substr(text.find(':') + 1);
    if (!rest.empty() && rest.front() == '[') {
      const auto close = rest.find(']');
      if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
        bad(text, "expected tcp:[IPv6]:PORT");
      spec.host = std::string(rest.substr(1, close - 1));
      spec.port = parse_port(text, rest.substr(close + 2));
    } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
      spec.host = std::string(rest.substr(0, colon));
      spec.port = parse_port(text, rest.substr(colon + 1));
    } else {
      spec.host = "127.0.0.1";
      spec.port = parse_port(text, rest);
    }
    if (!parse_ip(spec.host)) bad(text, "'" + spec.host + "' is not an IP address");
    return spec;
  }
  bad(text, "expected unix:PATH or tcp:HOST:PORT");
}

}  // namespace spfgate::server
