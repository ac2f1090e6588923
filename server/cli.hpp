// server/cli.hpp: the one-shot commands of the spfgate binary.
//
//   spfgate lint DOMAIN [--dkim-selector S]... [--json] [--config FILE] [--name=value ...]
//   spfgate check --ip IP --helo NAME --sender ADDR [--rcpt ADDR] [--json] [--config FILE] [--name=value ...]
//
// They share the daemon's configuration (a configuration file and --name=value options, e.g.
// --resolver-config=/etc/spfgate/unbound.conf) and its resolver, print to stdout, and return the process
// exit status. lint: 0 clean, 1 problems found, 2 could not run. check: 0 the answer lets the mail on
// (DUNNO, PREPEND, OK, a restriction class), 1 reject, 2 defer, 3 could not run.
#pragma once

#include <string>
#include <vector>

namespace spfgate::server {

int run_lint(const std::vector<std::string>& args);
int run_check(const std::vector<std::string>& args);

}  // namespace spfgate::server
