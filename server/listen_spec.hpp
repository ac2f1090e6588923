// server/listen_spec.hpp: parsing --listen values.
//
//   unix:/var/spool/postfix/private/spfgate[,mode=0660][,owner=postfix][,group=postfix]
//   tcp:127.0.0.1:10045   tcp:[::1]:10045   tcp:10045 (means 127.0.0.1:10045)
//
// Failure: parse_listen() throws config::Error naming the value and the fault.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spfgate::server {

struct ListenSpec {
  enum class Kind { Unix, Tcp } kind = Kind::Unix;
  std::string text;     // as configured, for log lines
  // unix:
  std::string path;
  mode_t mode = 0660;   // Postfix's smtpd (user postfix) must be allowed to connect: see owner/group
  std::string owner, group;
  // tcp:
  std::string host;
  std::uint16_t port = 0;
};

ListenSpec parse_listen(std::string_view text);

// The listener used when none is configured (and not in spawn mode or under systemd socket activation).
inline constexpr std::string_view kDefaultListen = "unix:/run/spfgate/spfgate.sock";

}  // namespace spfgate::server
