// config/lines.hpp: reading pypolicyd-spf-style text files line by line.
//
//   for (const auto& l : read_config_lines(path, "configuration file")) use(l.text, l.number);
//
// Everything from the first '#' to the end of a line is a comment (pypolicyd-spf: '#' cannot appear in
// a value); lines are trimmed; blank lines are skipped. Failure: throws config::Error for an unreadable
// file ("cannot read the <what>: <reason>") and for a NUL byte (naming the line).
#pragma once

#include <string>
#include <vector>

namespace spfgate::config {

struct ConfigLine {
  std::string text;  // without the comment, trimmed, never empty
  int number = 0;    // 1-based
};

std::vector<ConfigLine> read_config_lines(const std::string& path, const std::string& what);

}  // namespace spfgate::config
