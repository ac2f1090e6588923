// server/logging.hpp: where log lines go, and at which level.
//
//   server::setup_logging(settings);   // at start-up and after every reload
//   spdlog::info("...");                // everywhere else
//
// Targets: stderr (default for the daemon), syslog (facility mail, ident spfgate; the default in spawn
// mode, where stderr is the Postfix socket and must never be written), or journald. The level follows
// pypolicyd-spf's debugLevel unless log-level is set: -1 off, 0 error, 1 info (one line per decision),
// 2 debug (every check), 3+ trace (every DNS query).
// Peer-triggered warnings go through RateLimitedLog so a hostile client cannot flood the log.
// On stderr, a thread that runs an io_context writes its lines below warning together, once the
// handlers ready now have run (batch_log_lines_on()): one write(2) per turn of a busy loop instead of one
// per request, and no thread waits for another's line. Warnings and errors are written at once.
// Failure: setup_logging() throws std::runtime_error when the target cannot be opened.
#pragma once

#include "config/settings.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace boost::asio {
class io_context;
}

namespace spfgate::server {

void setup_logging(const config::Settings& settings);

// On the thread that is about to run `io`: its stderr lines below warning wait for the handlers that are
// ready to have run, then go out in one write(2) (a flush posted to `io`). end_batched_log_lines(), once
// run() has returned, writes what is left and makes every later line of the thread go out at once.
void batch_log_lines_on(boost::asio::io_context& io);
void end_batched_log_lines();

spdlog::level::level_enum level_for(const config::Settings& settings);

// At most one line per peer per interval; the next line says how many were suppressed. A peer is the
// client, not the connection: "192.0.2.1:41234" counts as 192.0.2.1 and "unix:/run/x.sock#12" as its
// listener, so a flood of new connections cannot flood the log either (key_of()).
class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::chrono::seconds interval = std::chrono::seconds(60), std::size_t max_keys = 4096)
      : interval_(interval), max_keys_(max_keys) {}
  // Any thread (the daemon's workers share one): a peer has one budget whichever worker serves it.
  void warn(const std::string& peer, const std::string& message);
  // The key a peer's warnings are counted under: the peer without a trailing ":<port>" or "#<connection>".
  static std::string key_of(const std::string& peer);

 private:
  struct Slot {
    std::chrono::steady_clock::time_point last;
    unsigned suppressed = 0;
  };
  std::chrono::seconds interval_;
  std::size_t max_keys_;
  std::mutex mutex_;  // guards slots_
  std::unordered_map<std::string, Slot> slots_;
};

}  // namespace spfgate::server
