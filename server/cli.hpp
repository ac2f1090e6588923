// server/cli.hpp: the one-shot commands of the spfgate binary.
//
//   spfgate lint DOMAIN [--dkim-selector S]... [--json] [--config FILE] [--name=value ...]
//
// They share the daemon's configuration (a configuration file and --name=value options, e.g.
// --resolver-config=/etc/spfgate/unbound.conf) and its resolver, print to stdout, and return the process
// exit status: 0 clean, 1 problems found, 2 the command could not run (bad arguments, DNS setup).
#pragma once

#include <string>
#include <vector>

namespace spfgate::server {

int run_lint(const std::vector<std::string>& args);

}  // namespace spfgate::server
