// config/options.hpp: the options table, and loading Settings from the command line and a config file.
//
//   config::Loaded l = config::load(args);        // args: argv[1..] of the daemon
//   if (l.help) print(config::help_text());
//   use(l.settings); for (auto& n : l.notices) log(n);
//
// One table (built on Boost.Program_options) describes every option: its name, type, default and help.
// The same names work on the command line (--name=value) and in the configuration file. The file format
// is pypolicyd-spf's, so an existing policyd-spf.conf loads unchanged: "Name = Value" lines, '#' starts a
// comment anywhere on a line, blank lines ignored. Unlike pypolicyd-spf: values may contain '=', list
// values tolerate spaces after commas, option values are validated at start-up (booleans accept
// True/False/Yes/No/On/Off/1/0 in any case), and an unknown option or a bad value is an error naming the
// file, the line and the option. spfgate's own daemon options are lower case with hyphens
// (max-connections); in the file an underscore may stand for a hyphen. Command-line values win over the
// file. Options only pypolicyd-spf's milter uses are accepted and reported as ignored.
//
// Failure: load() throws config::Error with the precise fault. It never exits the process.
#pragma once

#include "config/settings.hpp"

#include <string>
#include <utility>
#include <vector>

namespace spfgate::config {

struct Loaded {
  Settings settings;
  std::vector<std::string> notices;  // things worth a log line at start-up (ignored options, deprecations)
  bool help = false;                 // --help given
  bool version = false;              // --version given
  bool check_config = false;         // --check-config given: validate, report, exit
};

// `args` are the command-line arguments after the program name. A single positional argument is the
// configuration file (as with pypolicyd-spf: "policyd-spf /etc/.../policyd-spf.conf").
Loaded load(const std::vector<std::string>& args);

// Loads only a configuration file on top of the defaults (tests, `check`).
Loaded load_file(const std::string& path);

// `base` with some options set to other values, validated as in a configuration file (Per_User lines).
// Throws config::Error naming the option.
Settings with_overrides(const Settings& base, const std::vector<std::pair<std::string, std::string>>& options);

std::string help_text();

}  // namespace spfgate::config
