#include "policy/dns/caching_resolver.hpp"

#include "common/metrics.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <tuple>

namespace spfgate::dns {

namespace asio = boost::asio;

namespace {

// Bookkeeping per cached answer beyond its own data: the list node, the index node and bucket, the key's view.
constexpr std::size_t kEntryOverhead = 96;

bool cacheable(const DnsAnswer& a) noexcept {
  return a.status == DnsStatus::Ok || a.status == DnsStatus::NoData || a.status == DnsStatus::NxDomain;
}

std::size_t heap_bytes(const std::string& s) noexcept {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;  // beyond the small-string buffer
}

}  // namespace

std::size_t footprint(const DnsAnswer& a) noexcept {
  std::size_t n = sizeof(DnsAnswer) + heap_bytes(a.why);
  n += a.addresses.capacity() * sizeof(IpAddress);
  n += a.txt.capacity() * sizeof(std::vector<std::string>);
  for (const auto& record : a.txt) {
    n += record.capacity() * sizeof(std::string);
    for (const auto& s : record) n += heap_bytes(s);
  }
  n += a.mx.capacity() * sizeof(MxRecord);
  for (const auto& m : a.mx) n += heap_bytes(m.exchange);
  n += a.names.capacity() * sizeof(std::string);
  for (const auto& s : a.names) n += heap_bytes(s);
  return n;
}

// One question waiting for an identical one in flight. Completed exactly once: by the shared answer, or by
// its own cancellation.
struct CachingResolver::Waiter {
  using Handler = asio::any_completion_handler<void(DnsAnswer, bool)>;
  // Constructed with the handler, never assigned (any_completion_handler's move assignment recurses without
  // end in Boost 1.81; see unbound_resolver.cpp).
  Waiter(Handler h, asio::any_io_executor ex) : handler(std::move(h)), executor(std::move(ex)) {}

  // `shared`: the flight's answer (false: cancelled). Resumes the waiter through its executor, never inline.
  void complete(DnsAnswer answer, bool shared) {
    if (!handler) return;
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    auto ex = asio::get_associated_executor(handler, executor);
    asio::post(executor, [ex, h = Handler(std::move(handler)), answer = std::move(answer), shared]() mutable {
      asio::dispatch(ex, [h = std::move(h), answer = std::move(answer), shared]() mutable {
        std::move(h)(std::move(answer), shared);
      });
    });
  }

  Handler handler;
  asio::any_io_executor executor;
};

struct CachingResolver::Flight {
  explicit Flight(Deadline d) : deadline(d) {}
  Deadline deadline;
  std::vector<std::shared_ptr<Waiter>> waiters;
};

CachingResolver::CachingResolver(std::unique_ptr<Resolver> upstream, CacheOptions options)
    : owned_(std::move(upstream)), upstream_(*owned_), options_(std::move(options)) {}

CachingResolver::CachingResolver(Resolver& upstream, CacheOptions options)
    : upstream_(upstream), options_(std::move(options)) {}

CachingResolver::~CachingResolver() {
  *alive_ = false;
  // Questions still waiting get an answer (posted; they run only if their io_context still runs).
  for (auto& [key, flight] : flights_)
    for (auto& w : flight->waiters) w->complete(DnsAnswer::failure(DnsStatus::Error, "resolver shut down"), true);
}

const std::string& CachingResolver::make_key(std::string_view name, RrType type) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  scratch_.assign(name);
  for (char& c : scratch_)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  const auto t = static_cast<std::uint16_t>(type);
  scratch_.push_back('\0');  // never part of a name in presentation form
  scratch_.push_back(static_cast<char>(t >> 8));
  scratch_.push_back(static_cast<char>(t & 0xFF));
  return scratch_;
}

const CachingResolver::Entry* CachingResolver::find(std::string_view key, Clock::time_point t) {
  const auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  const Lru::iterator entry = it->second;
  if (entry->expires <= t) {
    erase(entry);
    ++stats_.expired;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, entry);  // most recently used first; iterators stay valid
  return &*entry;
}

void CachingResolver::erase(Lru::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(std::string_view(it->key));
  lru_.erase(it);
}

void CachingResolver::store(const std::string& key, const DnsAnswer& answer, Clock::time_point t) {
  if (!cacheable(answer) || options_.max_entries == 0) return;
  const auto ttl = std::min<std::chrono::seconds>(std::chrono::seconds(answer.ttl), options_.max_ttl);
  if (ttl.count() <= 0) return;
  const std::size_t bytes = footprint(answer) + key.size() + sizeof(Entry) + kEntryOverhead;
  if (bytes > options_.max_bytes / 8) return;
  if (const auto old = index_.find(std::string_view(key)); old != index_.end()) erase(old->second);
  lru_.push_front(Entry{key, answer, t + ttl, bytes});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  bytes_ += bytes;
  ++stats_.stored;
  while (!lru_.empty() && (lru_.size() > options_.max_entries || bytes_ > options_.max_bytes)) {
    erase(std::prev(lru_.end()));
    ++stats_.evicted;
  }
}

namespace {

// Per-operation cancellation of a waiter: hop through its executor, never complete from inside the slot.
template <class Waiter>
struct CancelWaiter {
  // A constructor, not an aggregate: emplace() constructs it with parentheses (P0960, not in clang 14).
  CancelWaiter(std::weak_ptr<Waiter> w, asio::any_io_executor ex) : waiter(std::move(w)), executor(std::move(ex)) {}
  std::weak_ptr<Waiter> waiter;
  asio::any_io_executor executor;
  void operator()(asio::cancellation_type type) const {
    if ((type & asio::cancellation_type::all) == asio::cancellation_type::none) return;
    asio::post(executor, [w = waiter] {
      if (auto self = w.lock()) self->complete(DnsAnswer::failure(DnsStatus::Timeout, "cancelled"), false);
    });
  }
};

}  // namespace

// Waits for the answer of `flight`: (answer, true), or (Timeout "cancelled", false) when this wait is cancelled.
// No coroutine of its own: the initiation runs when the caller awaits it.
asio::awaitable<std::tuple<DnsAnswer, bool>> CachingResolver::join(Flight& flight, asio::any_io_executor executor) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(DnsAnswer, bool)>(
      [](Waiter::Handler handler, Flight* target, asio::any_io_executor ex) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto waiter = std::make_shared<Waiter>(std::move(handler), ex);
        if (slot.is_connected()) slot.template emplace<CancelWaiter<Waiter>>(waiter, ex);
        target->waiters.push_back(std::move(waiter));
      },
      asio::use_awaitable, &flight, std::move(executor));
}

// (GCC 12 mis-compiles some coroutines holding shared_ptr locals and parameters (double destruction): hence
// no coroutine in join(), distinct local names and std::get instead of structured bindings.)
asio::awaitable<DnsAnswer> CachingResolver::query(std::string name, RrType type, Deadline deadline) {
  for (;;) {
    const Clock::time_point t = now();
    const std::string& key = make_key(name, type);
    if (const Entry* e = find(key, t)) {
      ++stats_.hits;
      metrics().add(metrics().ids().dns_cache, {"hit"});
      DnsAnswer hit = e->answer;
      hit.ttl = static_cast<std::uint32_t>(std::chrono::ceil<std::chrono::seconds>(e->expires - t).count());
      co_return hit;
    }
    const auto f = flights_.find(key);
    if (f == flights_.end() || f->second->deadline > deadline) break;
    // The same question is in flight, with a deadline no later than ours: wait for its answer.
    ++stats_.joined;
    std::tuple<DnsAnswer, bool> joined = co_await join(*f->second, co_await asio::this_coro::executor);
    // A Timeout before our own deadline was the first asker's (its deadline, or its cancellation): ask again.
    if (std::get<1>(joined) && std::get<0>(joined).status == DnsStatus::Timeout && Clock::now() < deadline) continue;
    co_return std::move(std::get<0>(joined));
  }

  ++stats_.misses;
  metrics().add(metrics().ids().dns_cache, {"miss"});
  std::string key = scratch_;  // our own copy: scratch_ is reused by other questions while we wait
  std::shared_ptr<Flight> own_flight;
  if (!flights_.contains(key)) {
    own_flight = std::make_shared<Flight>(deadline);
    flights_.emplace(key, own_flight);
  }
  const std::shared_ptr<bool> alive = alive_;
  DnsAnswer answer;
  try {
    answer = co_await upstream_.query(std::move(name), type, deadline);
  } catch (...) {
    if (*alive && own_flight) finish_flight(key, own_flight, DnsAnswer::failure(DnsStatus::Error, "internal error"));
    throw;
  }
  if (!*alive) co_return answer;  // destroyed while we waited (its waiters were answered then)
  store(key, answer, now());
  if (own_flight) finish_flight(key, own_flight, answer);
  co_return answer;
}

void CachingResolver::finish_flight(const std::string& key, const std::shared_ptr<Flight>& flight,
                                    const DnsAnswer& answer) {
  if (const auto it = flights_.find(key); it != flights_.end() && it->second == flight) flights_.erase(it);
  for (auto& w : flight->waiters) w->complete(answer, true);
}

CachingResolver::Stats CachingResolver::stats() const noexcept {
  Stats s = stats_;
  s.entries = lru_.size();
  s.bytes = bytes_;
  return s;
}

void CachingResolver::clear() {
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

}  // namespace spfgate::dns
