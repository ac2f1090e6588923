// policy/spf/outcome_cache.hpp: results of check_host(), reused while every DNS answer they came from is valid.
//
//   spf::OutcomeCache cache(5000);                                // one per SPF check (per configuration)
//   spf::Outcome o = co_await cache.check_host(resolver, request, options, deadline);
//   std::vector<spf::Outcome> all = co_await cache.check_hosts(resolver, {helo, mfrom}, options, deadline);
//   if (auto all = cache.all_cached({helo, mfrom}, options)) ...  // every one a hit: no coroutine at all
//
// Why: on a warm DNS cache, evaluating a record with its includes still costs tens of microseconds (a
// dozen cached answers to copy, terms to walk, macros to expand); a mail server sees the same senders'
// domains from the same clients all day. A result is kept under (identity, client address, <domain>):
// check_host() depends on nothing else unless a macro reads the sender, HELO or receiver, in which case
// those must match too.
//
// What is kept, and for how long: results computed from at least one answer, with no temporary answer
// among them (SERVFAIL, timeout, bogus: the next request asks again), no TempError, no %{t} and no
// exhausted time budget (Outcome::reusable); for the smallest TTL among the answers used (negative answers:
// their SOA-derived TTL), at most max_age. DNSSEC state needs no bookkeeping of its own: a bogus answer is
// temporary, and no result outlives the (validated) answers it came from. A hit is the stored outcome
// with from_cache set and dns_queries 0. Tracing (spfgate check) never uses the cache. Results bigger than
// kMaxEntryBytes (huge records) are not kept; at most max_entries are, the least recently used going first.
// Not thread-safe: it belongs to one Engine, and each worker thread has its own Engine.
#pragma once

#include "common/expiring_lru.hpp"
#include "policy/dns/resolver.hpp"
#include "policy/spf/evaluator.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace spfgate::spf {

class OutcomeCache {
 public:
  static constexpr std::chrono::seconds kDefaultMaxAge{3600};
  static constexpr std::size_t kMaxEntryBytes = 2048;

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t stored = 0;
  };

  explicit OutcomeCache(std::size_t max_entries, std::chrono::seconds max_age = kDefaultMaxAge,
                        std::function<dns::Clock::time_point()> clock = {})
      : entries_(max_entries), max_age_(max_age), clock_(std::move(clock)) {}

  // check_host() (policy/spf/evaluator.hpp), answered from the cache when it can be.
  boost::asio::awaitable<Outcome> check_host(dns::Resolver& resolver, Request request, Options options,
                                             dns::Deadline deadline);
  // check_host() of each request, concurrently; the outcomes in the order of `requests`. Hits are taken
  // before any coroutine starts, so a warm request costs no check_host() frames and no co_spawn.
  boost::asio::awaitable<std::vector<Outcome>> check_hosts(dns::Resolver& resolver, std::vector<Request> requests,
                                                           Options options, dns::Deadline deadline);
  // The outcomes of all `requests` when every one is a hit (counted as hits); otherwise nothing, and
  // nothing counted (the caller goes on with check_hosts()). No coroutine: the warm path of a check.
  std::optional<std::vector<Outcome>> all_cached(const std::vector<Request>& requests, const Options& options);

  const Stats& stats() const noexcept { return stats_; }
  std::size_t size() const noexcept { return entries_.size(); }
  void clear() { entries_.clear(); }

 private:
  struct Entry {
    Outcome outcome;
    std::string sender, helo, receiver;  // compared only when outcome.reads_request
  };

  bool enabled(const Options& options) const noexcept { return !options.trace && entries_.max_entries() > 0; }
  dns::Clock::time_point clock_now() const { return clock_ ? clock_() : dns::Clock::now(); }
  // The valid entry for `request` under `key`, or null.
  const Entry* entry_for(const std::string& key, const Request& request, dns::Clock::time_point now);
  // The outcome of a hit, counted.
  Outcome hit(const Entry& entry);
  // A miss (counted): check_host() itself, its outcome kept under `key` when it may be reused.
  boost::asio::awaitable<Outcome> evaluate_and_keep(dns::Resolver& resolver, std::string key, Request request,
                                                    Options options, dns::Deadline deadline,
                                                    dns::Clock::time_point now);

  ExpiringLru<Entry, dns::Clock> entries_;
  std::chrono::seconds max_age_;
  std::function<dns::Clock::time_point()> clock_;
  Stats stats_;
};

}  // namespace spfgate::spf
