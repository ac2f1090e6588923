#include "server/connection.hpp"

#include "common/metrics.hpp"
#include "common/text.hpp"
#include "server/stdio_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace spfgate::server {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// How long after request-timeout a request may still be worked on before it gets the fallback answer.
constexpr auto kAnswerGrace = std::chrono::seconds(2);
// Coarsest granularity of the timeouts (the watchdog wakes at least this often).
constexpr auto kWatchdogTick = std::chrono::milliseconds(1000);
constexpr std::size_t kReadChunk = 16384;

template <class Stream>
class Connection final : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(std::shared_ptr<ServerState> state, Stream stream, std::string peer, std::function<void()> on_close)
      : state_(std::move(state)),
        stream_(std::move(stream)),
        watchdog_(stream_.get_executor()),
        peer_(std::move(peer)),
        on_close_(std::move(on_close)) {
    state_->connections.insert(this);
  }
  ~Connection() override {
    state_->connections.erase(this);
    state_->assigned.fetch_sub(1, std::memory_order_relaxed);
    if (on_close_) on_close_();
    if (state_->stopping && state_->connections.empty() && state_->on_idle) state_->on_idle();
  }

  void start() {
    auto self = this->shared_from_this();
    const auto& s = *state_->settings;
    tick_ = std::min<Clock::duration>(
        kWatchdogTick,
        std::max<Clock::duration>(std::chrono::milliseconds(20),
                                  std::min({s.idle_timeout, s.request_read_timeout, s.write_timeout}) / 4));
    deadline_ = Clock::now() + s.idle_timeout;
    asio::co_spawn(stream_.get_executor(), [self]() { return self->watchdog(); }, asio::detached);
    asio::co_spawn(stream_.get_executor(), [self]() { return self->serve(); },
                   [self](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("{}: connection ended by an internal error: {}", self->peer_, ex.what());
                     }
                     self->close();
                   });
  }

  void shutdown() override {
    if (busy_) close_after_reply_ = true;
    else close();
  }

 private:
  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    stream_.close(ec);
    watchdog_.cancel();
  }

  asio::awaitable<void> watchdog() {
    while (!closed_) {
      watchdog_.expires_after(tick_);
      boost::system::error_code ec;
      co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (closed_) co_return;
      if (Clock::now() >= deadline_) {
        Metrics& m = metrics();
        if (phase_ == Phase::Reading) {
          m.add(m.ids().limit_hits, {"request-read-timeout"});
          state_->peer_warnings->warn(peer_, peer_ + ": request not complete within request-read-timeout; closing");
        } else if (phase_ == Phase::Writing) {
          m.add(m.ids().limit_hits, {"write-timeout"});
          state_->peer_warnings->warn(peer_, peer_ + ": reply not taken within write-timeout; closing");
        }
        else
          spdlog::debug("{}: idle for idle-timeout; closing", peer_);
        close();
        co_return;
      }
    }
  }

  asio::awaitable<void> serve() {
    const auto settings = state_->settings;
    RequestParser parser(CodecLimits{settings->max_line_length, settings->max_attributes, settings->max_request_bytes});
    std::array<char, kReadChunk> buffer;
    for (;;) {
      if (!parser.in_request()) {
        phase_ = Phase::Idle;
        deadline_ = Clock::now() + state_->settings->idle_timeout;
      }
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (closed_) co_return;  // the watchdog or shutdown closed us and logged why
        if (parser.in_request())
          state_->peer_warnings->warn(peer_, peer_ + ": connection closed in the middle of a request");
        else if (ec != asio::error::eof && ec != asio::error::connection_reset)
          spdlog::debug("{}: read error: {}", peer_, ec.message());
        close();
        co_return;
      }
      if (phase_ == Phase::Idle) {
        phase_ = Phase::Reading;
        deadline_ = Clock::now() + state_->settings->request_read_timeout;
      }
      std::string_view data(buffer.data(), n);
      while (!data.empty()) {
        const ParseStatus status = parser.feed(data);
        if (status == ParseStatus::NeedMore) break;
        if (status == ParseStatus::Fatal) {
          metrics().add(metrics().ids().limit_hits, {"max-request-bytes"});
          state_->peer_warnings->warn(peer_, peer_ + ": " + std::string(to_string(parser.fatal_fault())) +
                                                 " (over " + std::to_string(settings->max_request_bytes) +
                                                 " bytes); closing the connection");
          close();
          co_return;
        }
        busy_ = true;
        phase_ = Phase::Working;
        deadline_ = Clock::time_point::max();
        std::string reply = co_await answer(parser.take());
        if (closed_) co_return;
        phase_ = Phase::Writing;
        deadline_ = Clock::now() + state_->settings->write_timeout;
        auto [wec, written] = co_await asio::async_write(stream_, asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
        (void)written;
        busy_ = false;
        if (wec) {
          if (!closed_) spdlog::debug("{}: write error: {}", peer_, wec.message());
          close();
          co_return;
        }
        if (close_after_reply_ || state_->stopping) {
          close();
          co_return;
        }
        phase_ = parser.in_request() ? Phase::Reading : Phase::Idle;
        deadline_ = Clock::now() + (parser.in_request() ? state_->settings->request_read_timeout
                                                        : state_->settings->idle_timeout);
      }
    }
  }

  // A request the engine never sees: counted as a malformed answer and a limit hit, one rate-limited
  // warning, the configured malformed-reply.
  std::string refuse(std::string_view limit, const std::string& what) {
    Metrics& m = metrics();
    m.add(m.ids().answers, {"malformed"});
    m.add(m.ids().limit_hits, {limit});
    const std::string& reply = state_->settings->malformed_reply;
    state_->peer_warnings->warn(peer_, peer_ + ": " + what + "; answering " + reply);
    return format_reply(reply);
  }

  asio::awaitable<std::string> answer(RawRequest raw) {
    Metrics& m = metrics();
    m.add(m.ids().requests, {});
    if (raw.fault != Fault::None)
      co_return refuse(raw.fault == Fault::LineTooLong         ? "max-line-length"
                       : raw.fault == Fault::TooManyAttributes ? "max-attributes"
                                                               : "syntax",
                       "malformed request (" + std::string(to_string(raw.fault)) + "): \"" + raw.fault_detail + "\"");
    // An empty request (a blank line) goes to the engine like any other, as in pypolicyd-spf: "dunno" (no
    // client address), or the Mock answer.
    auto request = std::make_shared<policy::PolicyRequest>(policy::PolicyRequest::from(std::move(raw.attributes)));
    if (!request->request.empty() && request->request != "smtpd_access_policy")
      co_return refuse("request-type", "unknown request type \"" + loggable(request->request) + "\"");
    const auto started = Clock::now();
    policy::Answer a = co_await decide(request);
    m.observe_request(std::chrono::duration<double>(Clock::now() - started).count());
    m.add(m.ids().answers, {policy::to_string(a.kind)});
    if (!a.log_line.empty()) spdlog::info("{}", a.log_line);
    if (!a.details.empty()) spdlog::debug("{}checks: {}", request->queue_id.empty() ? "" : loggable(request->queue_id) + ": ", a.details);
    co_return format_reply(a.action);
  }

  // What needs no waiting is decided here and now (Engine::start: the warm path, no coroutine, no timer).
  // The rest runs in a coroutine of its own so that, whatever happens inside, this request gets an answer
  // by request-timeout + grace.
  asio::awaitable<policy::Answer> decide(std::shared_ptr<policy::PolicyRequest> request) {
    const auto deadline = Clock::now() + state_->settings->request_timeout;
    auto state = state_;
    auto engine = state_->engine;
    // The per-check details are logged at debug level only: not worth building otherwise.
    const bool details = spdlog::should_log(spdlog::level::debug);
    policy::Engine::Started started;
    try {
      started = engine->start(*request, *state->resolver, *state->cache, deadline, details);
    } catch (const std::exception& e) {
      co_return fallback(std::string("internal error while deciding: ") + e.what());
    }
    if (started.answer) co_return std::move(*started.answer);

    struct Pending {
      explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
      asio::steady_timer timer;
      std::optional<policy::Answer> answer;
      std::exception_ptr error;
      bool done = false;
    };
    auto ex = stream_.get_executor();
    auto pending = std::make_shared<Pending>(ex);
    pending->timer.expires_at(deadline + kAnswerGrace);
    asio::co_spawn(
        ex,
        // The state and the engine are held for as long as the work runs: the resolver, the message cache
        // and the engine it started on (a reload may replace state_->engine meanwhile).
        [state, engine, request, work = std::move(started.work)]() mutable -> asio::awaitable<policy::Answer> {
          co_return co_await policy::Engine::resume(*request, std::move(work));
        },
        [pending](std::exception_ptr e, policy::Answer a) {
          pending->done = true;
          if (e) pending->error = e;
          else pending->answer = std::move(a);
          pending->timer.cancel();
        });
    boost::system::error_code ec;
    while (!pending->done && Clock::now() < deadline + kAnswerGrace)
      co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (pending->answer) co_return std::move(*pending->answer);
    if (pending->error) {
      try {
        std::rethrow_exception(pending->error);
      } catch (const std::exception& e) {
        co_return fallback(std::string("internal error while deciding: ") + e.what());
      }
    }
    co_return fallback("no decision within request-timeout");
  }

  // DUNNO, and an error line saying why: the answer when the engine gave none.
  policy::Answer fallback(const std::string& why) {
    spdlog::error("{}: {}; answering DUNNO", peer_, why);
    policy::Answer a;
    a.action = "DUNNO";
    return a;
  }

  enum class Phase { Idle, Reading, Working, Writing };

  std::shared_ptr<ServerState> state_;
  Stream stream_;
  asio::steady_timer watchdog_;
  std::string peer_;
  std::function<void()> on_close_;
  Clock::duration tick_{kWatchdogTick};
  Clock::time_point deadline_;
  Phase phase_ = Phase::Idle;
  bool busy_ = false;
  bool closed_ = false;
  bool close_after_reply_ = false;
};

}  // namespace

template <class Stream>
void start_connection(std::shared_ptr<ServerState> state, Stream stream, std::string peer,
                      std::function<void()> on_close) {
  auto c = std::make_shared<Connection<Stream>>(std::move(state), std::move(stream), std::move(peer),
                                                std::move(on_close));
  c->start();
}

template void start_connection(std::shared_ptr<ServerState>, asio::local::stream_protocol::socket, std::string,
                               std::function<void()>);
template void start_connection(std::shared_ptr<ServerState>, asio::ip::tcp::socket, std::string,
                               std::function<void()>);
template void start_connection(std::shared_ptr<ServerState>, StdioStream, std::string, std::function<void()>);

}  // namespace spfgate::server
