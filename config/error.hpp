// config/error.hpp: the one exception type for configuration faults.
//
// Thrown while reading configuration files, access tables or option values; never while serving. It names
// where the fault is (file and line when known, the option when known) so that the start-up message is
// precise: "/etc/spfgate.conf:12: Lookup_Time: '2.5' is not a whole number of seconds". what() is sanitised
// (common/text.hpp: no control characters, valid UTF-8, bounded), as it quotes the file's text.
#pragma once

#include "common/text.hpp"

#include <stdexcept>
#include <string>

namespace spfgate::config {

class Error : public std::runtime_error {
 public:
  Error(std::string file, int line, std::string option, const std::string& message)
      : std::runtime_error(format(file, line, option, message)),
        message_(message),
        file_(std::move(file)),
        line_(line),
        option_(std::move(option)) {}
  explicit Error(const std::string& message) : Error({}, 0, {}, message) {}

  const std::string& file() const noexcept { return file_; }
  int line() const noexcept { return line_; }
  const std::string& option() const noexcept { return option_; }
  const std::string& message() const noexcept { return message_; }  // without file, line and option

 private:
  static std::string format(const std::string& file, int line, const std::string& option,
                            const std::string& message) {
    std::string out;
    if (!file.empty()) {
      out += file;
      if (line > 0) out += ":" + std::to_string(line);
      out += ": ";
    }
    if (!option.empty()) out += option + ": ";
    // The message quotes what the file said, which may hold any byte (a NUL would even cut what() short):
    // it goes to the log as one clean line.
    return sanitize(out + message, kMaxErrorMessage);
  }
  static constexpr std::size_t kMaxErrorMessage = 2048;
  std::string message_;
  std::string file_;
  int line_;
  std::string option_;
};

}  // namespace spfgate::config
