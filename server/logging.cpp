#include "server/logging.hpp"

#include "server/systemd.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <shared_mutex>
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

// This thread's stderr lines: its copy of the pattern, the lines not yet written, the loop they wait for.
struct ThreadLines {
  boost::asio::io_context* io = nullptr;  // set by batch_log_lines_on(): lines below warning wait for it
  bool flush_posted = false;
  std::unique_ptr<spdlog::formatter> formatter;
  std::uint64_t formatter_version = 0;
  spdlog::memory_buf_t line;
  spdlog::memory_buf_t pending;

  // One write(2) for everything pending: whole lines, so the kernel keeps them together whichever thread
  // writes next (writes to one file are serialised; a pipe's are atomic up to PIPE_BUF, which `pending`
  // never exceeds but for a single longer line).
  void write_out() noexcept {
    const char* p = pending.data();
    std::size_t n = pending.size();
    while (n > 0) {
      const ssize_t w = ::write(STDERR_FILENO, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        break;  // nowhere left to say so
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    pending.clear();
  }
  ~ThreadLines() { write_out(); }
};

thread_local ThreadLines thread_lines;

std::atomic<std::uint64_t> formatter_versions{0};

// stderr without a lock on the way: each thread formats with its own copy of the pattern and hands whole
// lines to write(2). On a thread that runs an io_context (batch_log_lines_on()), lines below warning wait
// until the handlers ready now have run (a posted flush), so that a busy worker writes one batch per turn
// of its loop instead of a line per request, after its replies rather than before them. Warnings and
// errors, and every line of a thread without a loop, are written at once.
class StderrSink final : public spdlog::sinks::sink {
 public:
  explicit StderrSink(const std::string& pattern) { set_pattern(pattern); }

  void log(const spdlog::details::log_msg& msg) override {
    ThreadLines& t = thread_lines;
    if (!t.formatter || t.formatter_version != version_.load(std::memory_order_acquire)) {
      std::lock_guard lock(mutex_);
      t.formatter = formatter_->clone();
      t.formatter_version = version_.load(std::memory_order_relaxed);
    }
    t.line.clear();
    t.formatter->format(msg, t.line);
    if (t.pending.size() + t.line.size() > PIPE_BUF) t.write_out();
    t.pending.append(t.line.data(), t.line.data() + t.line.size());
    if (!t.io || msg.level >= spdlog::level::warn) {
      t.write_out();
      return;
    }
    if (!t.flush_posted) {
      t.flush_posted = true;
      boost::asio::post(*t.io, [] {
        thread_lines.flush_posted = false;
        thread_lines.write_out();
      });
    }
  }
  // The calling thread's lines; another thread's follow when its loop comes round.
  void flush() override { thread_lines.write_out(); }
  void set_pattern(const std::string& pattern) override {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard lock(mutex_);
    formatter_ = std::move(formatter);
    version_.store(++formatter_versions, std::memory_order_release);  // unique across sinks
  }

 private:
  std::mutex mutex_;  // guards formatter_ (the pattern the threads copy)
  std::unique_ptr<spdlog::formatter> formatter_;
  std::atomic<std::uint64_t> version_{0};
};

// The sink all lines go through, its target replaced under an exclusive lock: a worker thread's line
// waits for the new target instead of going nowhere while a reload swaps it. Lines themselves take the
// lock shared, so the threads do not queue behind each other's lines: every target is safe to call from
// several threads at once (StderrSink; syslog(3) and sd_journal_send(3) are thread-safe, and those sinks
// take the message as logged, without formatting).
class LogTargets final : public spdlog::sinks::sink {
 public:
  template <class Make>
  void replace(Make make) {
    std::unique_lock lock(mutex_);
    // The previous target goes first: a syslog sink calls closelog() when destroyed, which resets the
    // ident that the new sink's openlog() set (lines would go out as "spfgate[pid]" whatever
    // syslog-ident says).
    target_.reset();
    target_ = make();
  }
  void log(const spdlog::details::log_msg& msg) override {
    std::shared_lock lock(mutex_);
    if (target_) target_->log(msg);
  }
  void flush() override {
    std::shared_lock lock(mutex_);
    if (target_) target_->flush();
  }
  // Each target has its own pattern, set when it is made.
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  std::shared_mutex mutex_;  // guards target_
  spdlog::sink_ptr target_;
};

}  // namespace

void batch_log_lines_on(boost::asio::io_context& io) {
  thread_lines.write_out();
  thread_lines.io = &io;
  thread_lines.flush_posted = false;
}

void end_batched_log_lines() {
  thread_lines.io = nullptr;
  thread_lines.flush_posted = false;
  thread_lines.write_out();
}

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
    // Never flushed by the logger: StderrSink writes when it should, the other targets do not buffer.
    logger->flush_on(spdlog::level::off);
    spdlog::set_default_logger(std::move(logger));
  }
  targets->replace([&]() -> spdlog::sink_ptr {
    spdlog::sink_ptr sink;
    switch (target) {
      case config::LogTarget::Stderr:
        // The pid written in, not %P: that flag calls getpid() for every line (a system call per request).
        sink = std::make_shared<StderrSink>("%Y-%m-%d %H:%M:%S.%e spfgate[" + std::to_string(::getpid()) + "]: %l: %v");
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
