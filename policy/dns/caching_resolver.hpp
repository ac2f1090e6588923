// policy/dns/caching_resolver.hpp: an in-process answer cache in front of another Resolver.
//
//   auto cache = std::make_unique<dns::CachingResolver>(std::move(unbound), dns::CacheOptions{});
//   DnsAnswer a = co_await cache->query("example.com", RrType::TXT, deadline);
//
// Why: libunbound's own cache sits behind a pipe to its thread, so even a cached answer costs two thread
// hand-offs and a result to parse (tens of microseconds); a request of the daemon asks 6-12 questions. This
// cache answers repeated questions from the caller's own thread, and it merges identical questions asked at
// the same time (a burst of mail from one domain asks for its record once).
//
// What is kept: Ok, NoData and NxDomain answers, keyed by (name lower-cased without its trailing dot, type),
// for the TTL the upstream resolver reports (for NoData/NxDomain libunbound reports the negative TTL derived
// from the zone's SOA, RFC 2308), at most max_ttl. The answer is kept whole, DNSSEC state included (Secure
// stays Secure, Insecure stays Insecure); a hit returns it with the TTL counted down. Never kept: Timeout,
// ServFail, Bogus and Error answers (temporary: the next question goes upstream again, where libunbound
// applies its own rules, e.g. val-bogus-ttl) and answers with TTL 0.
// De-duplication: a question whose (name, type) is already being asked upstream waits for that answer, if
// that query's deadline is not later than its own (so the wait never outlasts its own deadline); when the
// shared answer is a Timeout and the waiter's own deadline has not passed (the first asker was cancelled, or
// had the earlier deadline), the waiter asks again itself. Waiters honour per-operation cancellation
// (completing with Timeout "cancelled"). A question with an earlier deadline than the one in flight asks
// upstream on its own.
// Bounds: at most max_entries answers and about max_bytes bytes (keys, records, bookkeeping); the least
// recently used answers are evicted first, expired ones whenever they are met. An answer bigger than an
// eighth of max_bytes is passed through uncached.
//
// Threading: not thread-safe; use it from one thread (the daemon's io_context thread), like the Resolvers it
// wraps. Waiters are resumed through their own executors, never inline. Destroy it on that thread (or with
// the io_context stopped): questions still waiting then get an Error answer.
// Failure: query() never throws for DNS outcomes; if the upstream query throws (std::bad_alloc), the waiters
// get an Error answer and the exception goes to the first asker.
#pragma once

#include "policy/dns/resolver.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace spfgate::dns {

struct CacheOptions {
  static constexpr std::size_t kDefaultMaxEntries = 20000;
  static constexpr std::size_t kDefaultMaxBytes = 8u << 20;
  // unbound's own cache-max-ttl default: no answer is trusted for longer than a day.
  static constexpr std::chrono::seconds kDefaultMaxTtl{86400};

  std::size_t max_entries = kDefaultMaxEntries;
  std::size_t max_bytes = kDefaultMaxBytes;
  std::chrono::seconds max_ttl = kDefaultMaxTtl;
  // The time source for expiry (tests inject their own); empty: Clock::now.
  std::function<Clock::time_point()> clock;
};

class CachingResolver final : public Resolver {
 public:
  struct Stats {
    std::uint64_t hits = 0;        // answered from the cache
    std::uint64_t misses = 0;      // asked upstream
    std::uint64_t joined = 0;      // waited for an identical question in flight
    std::uint64_t stored = 0;      // answers put into the cache
    std::uint64_t evicted = 0;     // removed to stay within the bounds
    std::uint64_t expired = 0;     // removed because their TTL ran out
    std::size_t entries = 0;
    std::size_t bytes = 0;
  };

  CachingResolver(std::unique_ptr<Resolver> upstream, CacheOptions options);
  // Not owning: `upstream` must outlive this object.
  CachingResolver(Resolver& upstream, CacheOptions options);
  ~CachingResolver() override;
  CachingResolver(const CachingResolver&) = delete;
  CachingResolver& operator=(const CachingResolver&) = delete;

  boost::asio::awaitable<DnsAnswer> query(std::string name, RrType type, Deadline deadline) override;

  Stats stats() const noexcept;
  const CacheOptions& options() const noexcept { return options_; }
  void clear();

 private:
  struct Entry {
    std::string key;  // normalised name, '/', type number
    DnsAnswer answer;
    Clock::time_point expires;
    std::size_t bytes = 0;
  };
  using Lru = std::list<Entry>;  // most recently used first
  struct Waiter;
  struct Flight;

  Clock::time_point now() const { return options_.clock ? options_.clock() : Clock::now(); }
  const std::string& make_key(std::string_view name, RrType type);
  const Entry* find(std::string_view key, Clock::time_point now);
  void store(const std::string& key, const DnsAnswer& answer, Clock::time_point now);
  void erase(Lru::iterator it);
  boost::asio::awaitable<std::tuple<DnsAnswer, bool>> join(Flight& flight, boost::asio::any_io_executor executor);
  void finish_flight(const std::string& key, const std::shared_ptr<Flight>& flight, const DnsAnswer& answer);

  std::unique_ptr<Resolver> owned_;
  Resolver& upstream_;
  CacheOptions options_;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator> index_;  // views into Entry::key
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  std::size_t bytes_ = 0;
  Stats stats_;
  std::string scratch_;  // key of the question being looked up (no allocation on a hit)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed (for suspended askers)
};

// The bytes an answer holds (for the cache's bound): strings, vectors, the struct itself.
std::size_t footprint(const DnsAnswer& answer) noexcept;

}  // namespace spfgate::dns
