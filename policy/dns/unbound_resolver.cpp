#include "policy/dns/unbound_resolver.hpp"

#include "common/text.hpp"
#include "policy/dns/libunbound.hpp"
#include "policy/dns/unbound_result.hpp"
#include "policy/dns/wire.hpp"

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <fstream>
#include <stdexcept>
#include <unordered_map>

namespace spfgate::dns {

namespace asio = boost::asio;

namespace {

constexpr int kClassIn = 1;  // RFC 1035 §3.2.4

// A zone no configuration holds: ub_ctx_zone_remove() of it finalizes the context (applies every option,
// loads trust anchors, sets up the modules) and changes nothing else. That surfaces configuration errors
// in the constructor instead of in the first query.
constexpr const char* kFinalizeProbeZone = "finalize-probe.spfgate.invalid.";

// ub_resolve_async() writes each query into a pipe to libunbound's thread with a *blocking* write (4 octets
// of framing, 16 of header, the name and its NUL). Keeping the messages of the queries in libunbound under
// half of Linux's default pipe capacity (64 KiB) means that write never waits, so the io_context never does.
constexpr std::size_t kPipeMessageOverhead = 4 + 16 + 1;
constexpr std::size_t kPipeBudget = 32 * 1024;

struct ContextDeleter {
  void operator()(ub_ctx* ctx) const noexcept { libunbound().ub_ctx_delete(ctx); }
};
struct ResultDeleter {
  void operator()(ub_result* result) const noexcept { libunbound().ub_resolve_free(result); }
};
using ContextPtr = std::unique_ptr<ub_ctx, ContextDeleter>;
using ResultPtr = std::unique_ptr<ub_result, ResultDeleter>;

void check(int rc, const std::string& what) {
  if (rc != 0) throw std::runtime_error("libunbound: " + what + ": " + libunbound().ub_strerror(rc));
}

std::string quoted(std::string_view text) { return "\"" + sanitize(text, kMaxLoggedValue) + "\""; }

}  // namespace

class UnboundResolver::Impl : public std::enable_shared_from_this<Impl> {
 public:
  using Handler = asio::any_completion_handler<void(DnsAnswer)>;

  Impl(asio::any_io_executor executor, UnboundOptions options)
      : options_(std::move(options)), strand_(asio::make_strand(std::move(executor))), descriptor_(strand_) {
    if (options_.query_timeout.count() <= 0) throw std::runtime_error("libunbound: query timeout must be positive");
    if (options_.max_outstanding == 0) throw std::runtime_error("libunbound: max_outstanding must be positive");
    ctx_.reset(ub_.ub_ctx_create());
    if (!ctx_) throw std::runtime_error("libunbound: cannot create a resolver context");
    ub_ctx* ctx = ctx_.get();
    // Threads, not a forked process, and before anything finalizes the context.
    check(ub_.ub_ctx_async(ctx, 1), "ub_ctx_async");
    set_option("msg-cache-size:", std::to_string(options_.msg_cache_bytes));
    set_option("rrset-cache-size:", std::to_string(options_.rrset_cache_bytes));
    if (!options_.config_file.empty()) {
      if (!std::ifstream(options_.config_file))
        throw std::runtime_error("libunbound: cannot read config file " + quoted(options_.config_file));
      check(ub_.ub_ctx_config(ctx, options_.config_file.c_str()), "config file " + quoted(options_.config_file));
    }
    if (!options_.validate) {
      set_option("module-config:", "iterator");
    } else if (!options_.trust_anchor_file.empty()) {
      if (!std::ifstream(options_.trust_anchor_file))
        throw std::runtime_error("libunbound: cannot read trust anchor file " + quoted(options_.trust_anchor_file));
      check(ub_.ub_ctx_add_ta_file(ctx, options_.trust_anchor_file.c_str()),
            "trust anchor file " + quoted(options_.trust_anchor_file));
    }
    for (const std::string& forwarder : options_.forwarders)
      check(ub_.ub_ctx_set_fwd(ctx, forwarder.c_str()), "forwarder " + quoted(forwarder));
    for (const std::string& line : options_.extra_options) {
      const auto colon = line.find(':');
      const std::string name(trim(std::string_view(line).substr(0, colon == std::string::npos ? 0 : colon)));
      if (colon == std::string::npos || name.empty())
        throw std::runtime_error("libunbound: option " + quoted(line) + " is not \"name: value\"");
      const std::string value(trim(std::string_view(line).substr(colon + 1)));
      set_option(name + ":", value);
    }
    check(ub_.ub_ctx_zone_remove(ctx, kFinalizeProbeZone),
          "applying the configuration (libunbound logged the details on stderr)");
    descriptor_.assign(ub_.ub_fd(ctx));
  }

  ~Impl() { close_context(); }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  const UnboundOptions& options() const noexcept { return options_; }
  std::size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }

  // Caller's thread: prepares the query and hands it to the strand.
  void start(std::string name, RrType type, Deadline deadline, Handler handler) {
    const std::uint64_t serial = next_serial_.fetch_add(1, std::memory_order_relaxed);
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.template emplace<CancelHandler>(weak_from_this(), serial);
    auto work = asio::prefer(asio::get_associated_executor(handler, strand_), asio::execution::outstanding_work.tracked);
    auto query = std::make_unique<Query>(strand_, std::move(handler), std::move(work));
    query->owner = this;
    query->serial = serial;
    query->type = type;
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    asio::post(strand_, [self = shared_from_this(), query = std::move(query), name = std::move(name),
                         deadline]() mutable { self->begin(std::move(query), name, deadline); });
  }

  // Owner's thread, from ~UnboundResolver: completes every query still waiting and deletes the context.
  void shutdown() {
    closed_ = true;
    for (auto& [serial, query] : queries_) {
      query->timer.cancel();
      complete(*query, DnsAnswer::failure(DnsStatus::Error, "resolver shut down"));
    }
    close_context();
    queries_.clear();
  }

 private:
  struct Query {
    // The handler is moved in here once and moved out once: any_completion_handler's move assignment
    // recurses without end in Boost 1.81 (it constructs from the lvalue `other`), so it is never used.
    Query(const asio::strand<asio::any_io_executor>& strand, Handler h, asio::any_completion_executor w)
        : handler(std::move(h)), work(std::move(w)), timer(strand) {}
    Impl* owner = nullptr;
    std::uint64_t serial = 0;
    int async_id = 0;
    RrType type = RrType::A;
    bool registered = false;  // counted in pending_
    bool submitted = false;   // handed to libunbound, counted in submitted_
    std::string qname;        // as libunbound reads it
    std::size_t cost = 0;     // octets of its message in libunbound's command pipe
    std::chrono::milliseconds budget{0};
    Handler handler;                     // empty once completed
    asio::any_completion_executor work;  // the handler's executor, kept busy until completion
    asio::steady_timer timer;
  };

  // Per-operation cancellation: hop to the strand; never complete from inside the slot's own call.
  struct CancelHandler {
    // A constructor, not an aggregate: emplace() constructs it with parentheses, which clang 14 cannot do
    // for aggregates (P0960).
    CancelHandler(std::weak_ptr<Impl> owner, std::uint64_t id) : impl(std::move(owner)), serial(id) {}
    std::weak_ptr<Impl> impl;
    std::uint64_t serial;
    void operator()(asio::cancellation_type type) const {
      if ((type & asio::cancellation_type::all) == asio::cancellation_type::none) return;
      if (auto self = impl.lock())
        asio::post(self->strand_, [self, s = serial] { self->stop_query(s, "cancelled"); });
    }
  };

  void set_option(const std::string& name, const std::string& value) {
    check(ub_.ub_ctx_set_option(ctx_.get(), name.c_str(), value.c_str()), "option " + quoted(name + " " + value));
  }

  void close_context() {
    // The fd belongs to the context: release it from Asio (cancelling the wait) before deleting the
    // context, which also stops libunbound's thread and drops its queries without calling back.
    if (descriptor_.is_open()) descriptor_.release();
    ctx_.reset();
  }

  void begin(std::unique_ptr<Query> owned, const std::string& name, Deadline deadline) {
    Query& query = *owned;
    if (closed_ || !ctx_) return complete(query, DnsAnswer::failure(DnsStatus::Error, "resolver shut down"));
    if (!broken_.empty()) return complete(query, DnsAnswer::failure(DnsStatus::Error, broken_));
    const auto now = Clock::now();
    const Deadline limit = std::min(deadline, now + options_.query_timeout);
    if (limit <= now)
      return complete(query, DnsAnswer::failure(DnsStatus::Timeout, "deadline passed before the query was sent"));
    std::string why;
    auto qname = wire::query_name(name, why);
    if (!qname) return complete(query, DnsAnswer::failure(DnsStatus::Error, "invalid query name: " + why));

    query.qname = std::move(*qname);
    query.cost = kPipeMessageOverhead + query.qname.size();
    query.budget = std::chrono::duration_cast<std::chrono::milliseconds>(limit - now);
    query.timer.expires_at(limit);
    query.timer.async_wait([self = shared_from_this(), serial = query.serial](boost::system::error_code ec) {
      if (ec != asio::error::operation_aborted) self->stop_query(serial, "");
    });
    query.registered = true;
    ++pending_;
    queries_.emplace(query.serial, std::move(owned));
    waiting_.push_back(query.serial);
    pump();
    watch();
  }

  // Hands waiting queries to libunbound, oldest first, while the window has room.
  void pump() {
    while (!waiting_.empty() && !closed_ && ctx_) {
      const auto it = queries_.find(waiting_.front());
      if (it == queries_.end() || !it->second->handler) {  // timed out or cancelled while waiting
        waiting_.pop_front();
        continue;
      }
      Query& query = *it->second;
      const bool room = submitted_ < options_.max_outstanding &&
                        (submitted_ == 0 || submitted_bytes_ + query.cost <= kPipeBudget);
      if (!room) return;
      waiting_.pop_front();
      const int rc = ub_.ub_resolve_async(ctx_.get(), query.qname.c_str(), static_cast<int>(query.type),
                                          kClassIn, &query, &Impl::on_result, &query.async_id);
      if (rc != 0) {
        query.timer.cancel();
        complete(query, DnsAnswer::failure(DnsStatus::Error, std::string("libunbound: ") + ub_.ub_strerror(rc)));
        queries_.erase(it);
        continue;
      }
      query.submitted = true;
      ++submitted_;
      submitted_bytes_ += query.cost;
    }
  }

  // The query no longer counts against the window (answered, or cancelled in libunbound).
  void release(Query& query) {
    if (!query.submitted) return;
    query.submitted = false;
    --submitted_;
    submitted_bytes_ -= query.cost;
  }

  // libunbound's callback, called from ub_process() on the strand.
  static void on_result(void* mydata, int err, ub_result* raw) {
    ResultPtr result(raw);
    auto* query = static_cast<Query*>(mydata);
    query->owner->finish(*query, err, result.get());
  }

  void finish(Query& query, int err, const ub_result* result) {
    query.timer.cancel();
    release(query);
    if (query.handler) complete(query, answer_from_unbound(err, result, query.type));
    queries_.erase(query.serial);  // destroys `query`
    pump();                        // libunbound allows new queries from inside its callback
  }

  // Deadline (reason "") or cancellation: complete with Timeout and ask libunbound to forget the query.
  void stop_query(std::uint64_t serial, const char* reason) {
    const auto it = queries_.find(serial);
    if (it == queries_.end() || !it->second->handler) return;  // answered meanwhile: nothing to do
    Query& query = *it->second;
    query.timer.cancel();
    complete(query, DnsAnswer::failure(DnsStatus::Timeout,
                                       *reason ? std::string(reason)
                                               : "no answer within " + std::to_string(query.budget.count()) + " ms"));
    if (!query.submitted) {  // still waiting for the window: libunbound never saw it
      queries_.erase(it);
      return;
    }
    // After a successful ub_cancel libunbound never calls back, so the state can go. Otherwise (UB_NOID
    // cannot happen here: the callback would have erased the query) keep it until the callback comes or
    // the context is deleted, since libunbound still holds its address.
    if (ctx_ && ub_.ub_cancel(ctx_.get(), query.async_id) == UB_NOERROR) {
      release(query);
      queries_.erase(it);
      pump();
    }
  }

  void complete(Query& query, DnsAnswer answer) {
    if (!query.handler) return;
    Handler handler(std::move(query.handler));  // leaves query.handler empty
    asio::any_completion_executor work = std::move(query.work);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (query.registered) {
      query.registered = false;
      if (--pending_ == 0 && watching_) descriptor_.cancel();  // let io_context::run() return when idle
    }
    // Never run inline (we may be inside ub_process(), and the handler may start queries or destroy the
    // resolver): post to the io executor first, and from there dispatch to the handler's own executor.
    asio::post(strand_.get_inner_executor(), [work = std::move(work), handler = std::move(handler),
                                              answer = std::move(answer)]() mutable {
      asio::dispatch(work, [handler = std::move(handler), answer = std::move(answer)]() mutable {
        // The slot belongs to the asker's thread (a worker's, with `threads`), which may be cancelling
        // through it right now: clear it there, not on the resolver's. A cancellation that came first
        // finds the query gone (stop_query() ignores it).
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) slot.clear();
        std::move(handler)(std::move(answer));
      });
    });
  }

  void watch() {
    if (watching_ || closed_ || pending_ == 0 || !descriptor_.is_open()) return;
    watching_ = true;
    descriptor_.async_wait(asio::posix::descriptor_base::wait_read,
                           [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
  }

  void on_readable(boost::system::error_code ec) {
    watching_ = false;
    if (closed_) return;
    if (!ec) {
      const int rc = ub_.ub_process(ctx_.get());
      if (rc != 0) fail_all(std::string("libunbound: ") + ub_.ub_strerror(rc));
    } else if (ec != asio::error::operation_aborted) {
      fail_all("libunbound: waiting for answers: " + ec.message());
    }
    watch();
  }

  // libunbound's pipe broke (its thread is gone): nothing will answer any more.
  void fail_all(const std::string& why) {
    broken_ = why;
    waiting_.clear();
    for (auto& [serial, query] : queries_) {
      query->timer.cancel();
      complete(*query, DnsAnswer::failure(DnsStatus::Error, why));
    }
  }

  const Libunbound& ub_ = libunbound();  // first: loads the library before anything uses it
  UnboundOptions options_;
  asio::strand<asio::any_io_executor> strand_;
  ContextPtr ctx_;
  asio::posix::stream_descriptor descriptor_;
  // Strand state below.
  std::unordered_map<std::uint64_t, std::unique_ptr<Query>> queries_;
  std::deque<std::uint64_t> waiting_;  // registered, not yet handed to libunbound, oldest first
  std::size_t pending_ = 0;            // registered queries not yet completed
  std::size_t submitted_ = 0;          // handed to libunbound, not yet answered or cancelled
  std::size_t submitted_bytes_ = 0;    // their messages' octets
  bool watching_ = false;
  bool closed_ = false;
  std::string broken_;
  // Touched from callers' threads too.
  std::atomic<std::uint64_t> next_serial_{1};
  std::atomic<std::size_t> in_flight_{0};
};

UnboundResolver::UnboundResolver(asio::any_io_executor executor, UnboundOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

UnboundResolver::~UnboundResolver() { impl_->shutdown(); }

asio::awaitable<DnsAnswer> UnboundResolver::query(std::string name, RrType type, Deadline deadline) {
  co_return co_await async_query(std::move(name), type, deadline, asio::use_awaitable);
}

void UnboundResolver::start(std::string name, RrType type, Deadline deadline,
                            asio::any_completion_handler<void(DnsAnswer)> handler) {
  impl_->start(std::move(name), type, deadline, std::move(handler));
}

std::size_t UnboundResolver::in_flight() const noexcept { return impl_->in_flight(); }

const UnboundOptions& UnboundResolver::options() const noexcept { return impl_->options(); }

}  // namespace spfgate::dns
