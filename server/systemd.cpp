#include "server/systemd.hpp"

#include "common/shared_library.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <syslog.h>

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace spfgate::server::systemd {

namespace {

// The functions used, resolved once from libsystemd.so.0.
struct Library {
  decltype(&::sd_listen_fds) listen_fds = nullptr;
  decltype(&::sd_journal_send) journal_send = nullptr;
  std::string error;  // why it could not be loaded; empty when loaded

  static const Library& get() {
    static const Library library = load();
    return library;
  }

 private:
  static Library load() {
    Library l;
    SharedLibrary lib("libsystemd.so.0");
    lib.resolve(l.listen_fds, "sd_listen_fds");
    lib.resolve(l.journal_send, "sd_journal_send");
    l.error = lib.error();
    return l;
  }
};

const Library& loaded(const char* what) {
  const Library& l = Library::get();
  if (!l.error.empty()) throw std::runtime_error(std::string(what) + " needs libsystemd: " + l.error);
  return l;
}

int priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return LOG_DEBUG;
    case spdlog::level::info: return LOG_INFO;
    case spdlog::level::warn: return LOG_WARNING;
    case spdlog::level::err: return LOG_ERR;
    case spdlog::level::critical: return LOG_CRIT;
    default: return LOG_INFO;
  }
}

// spdlog's systemd_sink without formatting (the message as logged), through the loaded library.
class JournalSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  JournalSink(std::string ident, decltype(&::sd_journal_send) send) : ident_(std::move(ident)), send_(send) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto payload = msg.payload;
    const int length = static_cast<int>(std::min<std::size_t>(payload.size(), std::numeric_limits<int>::max()));
    const int err = send_("MESSAGE=%.*s", length, payload.data(), "PRIORITY=%d", priority(msg.level),
                          "SYSLOG_IDENTIFIER=%.*s", static_cast<int>(ident_.size()), ident_.data(), nullptr);
    if (err) spdlog::throw_spdlog_ex("Failed writing to systemd", errno);
  }
  void flush_() override {}

 private:
  std::string ident_;
  decltype(&::sd_journal_send) send_;
};

}  // namespace

int listen_fds() {
  // Without LISTEN_FDS sd_listen_fds() answers 0: no need to load anything to know that.
  if (!std::getenv("LISTEN_FDS")) return 0;
  return loaded("socket activation (LISTEN_FDS)").listen_fds(1);
}

std::shared_ptr<spdlog::sinks::sink> journal_sink(std::string ident) {
  return std::make_shared<JournalSink>(std::move(ident), loaded("log = journald").journal_send);
}

}  // namespace spfgate::server::systemd
