#include "server/logging.hpp"

#include "server/systemd.hpp"

#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace spfgate::server {

namespace {

int facility_code(const std::string& name) {
  static const std::pair<const char*, int> table[] = {
      {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
      {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
      {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  for (const auto& [n, code] : table)
    if (name == n) return code;
  throw std::runtime_error("unknown syslog facility '" + name + "'");
}

}  // namespace

spdlog::level::level_enum level_for(const config::Settings& s) {
  if (!s.log_level.empty()) {
    if (s.log_level == "warning") return spdlog::level::warn;
    return spdlog::level::from_str(s.log_level);
  }
  if (s.debug_level < 0) return spdlog::level::off;
  switch (s.debug_level) {
    case 0: return spdlog::level::err;
    case 1: return spdlog::level::info;
    case 2: return spdlog::level::debug;
    default: return spdlog::level::trace;
  }
}

namespace {

// The distributing sink all lines go through, its target replaced under its own mutex: a worker thread's
// line waits for the new target instead of going nowhere while a reload swaps it.
class LogTargets final : public spdlog::sinks::dist_sink_mt {
 public:
  template <class Make>
  void replace(Make make) {
    std::lock_guard<std::mutex> lock(mutex_);
    // The previous target goes first: a syslog sink calls closelog() when destroyed, which resets the
    // ident that the new sink's openlog() set (lines would go out as "spfgate[pid]" whatever
    // syslog-ident says).
    sinks_.clear();
    sinks_.push_back(make());
  }
};

}  // namespace

void setup_logging(const config::Settings& s) {
  const config::LogTarget target = s.log_target.value_or(s.spawn ? config::LogTarget::Syslog : config::LogTarget::Stderr);
  // What can fail comes first — the journal sink (libsystemd may not load) and the facility's name — so
  // that a failed reload leaves the previous target in place and can still say so.
  spdlog::sink_ptr journal = target == config::LogTarget::Journald ? systemd::journal_sink(s.syslog_ident) : nullptr;
  const int facility = target == config::LogTarget::Syslog ? facility_code(s.syslog_facility) : 0;
  // One logger for the life of the process, its lines going through one distributing sink whose target a
  // reload replaces: worker threads (`threads`) keep logging through the default logger while it
  // happens, so the logger itself is never replaced after start-up.
  static std::shared_ptr<LogTargets> targets;
  if (!targets) {
    targets = std::make_shared<LogTargets>();
    auto logger = std::make_shared<spdlog::logger>("spfgate", targets);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
  }
  // The target itself needs no lock of its own: the distributing sink calls it under its mutex.
  targets->replace([&]() -> spdlog::sink_ptr {
    spdlog::sink_ptr sink;
    switch (target) {
      case config::LogTarget::Stderr:
        sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
        // The pid written in, not %P: that flag calls getpid() for every line (a system call per request).
        sink->set_pattern("%Y-%m-%d %H:%M:%S.%e spfgate[" + std::to_string(::getpid()) + "]: %^%l%$: %v");
        break;
      case config::LogTarget::Syslog:
        sink = std::make_shared<spdlog::sinks::syslog_sink_st>(s.syslog_ident, LOG_PID, facility, false);
        sink->set_pattern("%v");
        break;
      case config::LogTarget::Journald:
        sink = std::move(journal);
        sink->set_pattern("%v");
        break;
    }
    return sink;
  });
  spdlog::default_logger_raw()->set_level(level_for(s));
}

std::string RateLimitedLog::key_of(const std::string& peer) {
  // "<listener>#<n>" (a unix-socket connection) and "<address>:<port>" (a TCP client): drop the part that
  // changes with every connection.
  const auto cut = peer.find_last_of("#:");
  if (cut == std::string::npos || cut + 1 == peer.size()) return peer;
  for (std::size_t i = cut + 1; i < peer.size(); ++i)
    if (peer[i] < '0' || peer[i] > '9') return peer;
  return peer.substr(0, cut);
}

void RateLimitedLog::warn(const std::string& peer, const std::string& message) {
  const auto now = std::chrono::steady_clock::now();
  const std::string key = key_of(peer);
  unsigned suppressed = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(key);
    if (it == slots_.end()) {
      if (slots_.size() >= max_keys_) {
        // Forget stale peers first; if all are fresh, stay bounded by dropping everything.
        std::erase_if(slots_, [&](const auto& kv) { return now - kv.second.last >= interval_; });
        if (slots_.size() >= max_keys_) slots_.clear();
      }
      slots_.emplace(key, Slot{now, 0});
    } else {
      Slot& slot = it->second;
      if (now - slot.last < interval_) {
        ++slot.suppressed;
        return;
      }
      suppressed = slot.suppressed;
      slot.last = now;
      slot.suppressed = 0;
    }
  }
  if (suppressed > 0)
    spdlog::warn("{} ({} similar warnings for {} suppressed)", message, suppressed, key);
  else
    spdlog::warn("{}", message);
}

}  // namespace spfgate::server
