#include "policy/spf/outcome_cache.hpp"

#include "common/async.hpp"
#include "common/metrics.hpp"
#include "policy/dns/recording_resolver.hpp"

#include <algorithm>

namespace spfgate::spf {

namespace asio = boost::asio;

namespace {

// (identity, client, <domain>): what check_host() depends on besides its DNS data and the macro inputs.
std::string key_of(const Request& r) {
  std::string key;
  key.reserve(64);
  key += r.identity == Identity::Helo ? 'h' : 'm';
  append_octets(key, r.client);
  key += '/';
  key += evaluated_domain(r);
  return key;
}

std::size_t bytes_of(const Outcome& o) {
  std::size_t n = sizeof o + o.domain.size() + o.mechanism.size() + o.explanation.size() + o.problem.size() +
                  o.record.size();
  for (const auto& s : o.record_strings) n += sizeof s + s.size();
  return n;
}

}  // namespace

const OutcomeCache::Entry* OutcomeCache::entry_for(const std::string& key, const Request& request,
                                                   dns::Clock::time_point now) {
  const Entry* e = entries_.find(key, now);
  if (!e || (e->outcome.reads_request &&
             (e->sender != request.sender || e->helo != request.helo || e->receiver != request.receiver)))
    return nullptr;
  return e;
}

Outcome OutcomeCache::hit(const Entry& entry) {
  ++stats_.hits;
  metrics().add(metrics().ids().result_cache, {"spf", "hit"});
  Outcome out = entry.outcome;
  out.from_cache = true;
  out.dns_queries = 0;
  return out;
}

std::optional<std::vector<Outcome>> OutcomeCache::all_cached(const std::vector<Request>& requests,
                                                             const Options& options) {
  if (!enabled(options)) return std::nullopt;
  const dns::Clock::time_point now = clock_now();
  // Found first; counted and copied only when all are there.
  std::vector<Outcome> out;
  out.reserve(requests.size());
  std::vector<const Entry*> found;
  found.reserve(requests.size());
  for (const Request& r : requests) {
    const Entry* e = entry_for(key_of(r), r, now);
    if (!e) return std::nullopt;
    found.push_back(e);
  }
  for (const Entry* e : found) out.push_back(hit(*e));
  return out;
}

asio::awaitable<std::vector<Outcome>> OutcomeCache::check_hosts(dns::Resolver& resolver, std::vector<Request> requests,
                                                              Options options, dns::Deadline deadline) {
  std::vector<Outcome> out(requests.size());
  std::vector<asio::awaitable<Outcome>> work;
  std::vector<std::size_t> pending;
  const bool use_cache = enabled(options);
  const dns::Clock::time_point now = clock_now();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    Request& r = requests[i];
    std::string key;
    if (use_cache) {
      key = key_of(r);
      if (const Entry* e = entry_for(key, r, now)) {
        out[i] = hit(*e);
        continue;
      }
    }
    pending.push_back(i);
    work.push_back(use_cache ? evaluate_and_keep(resolver, std::move(key), std::move(r), options, deadline, now)
                             : spf::check_host(resolver, std::move(r), options, deadline));
  }
  if (work.empty()) co_return out;
  std::vector<Outcome> done = co_await gather(std::move(work));
  for (std::size_t k = 0; k < pending.size(); ++k) out[pending[k]] = std::move(done[k]);
  co_return out;
}

asio::awaitable<Outcome> OutcomeCache::check_host(dns::Resolver& resolver, Request request, Options options,
                                                  dns::Deadline deadline) {
  if (!enabled(options))
    co_return co_await spf::check_host(resolver, std::move(request), std::move(options), deadline);
  std::string key = key_of(request);
  const dns::Clock::time_point now = clock_now();
  if (const Entry* e = entry_for(key, request, now)) co_return hit(*e);
  co_return co_await evaluate_and_keep(resolver, std::move(key), std::move(request), std::move(options), deadline, now);
}

asio::awaitable<Outcome> OutcomeCache::evaluate_and_keep(dns::Resolver& resolver, std::string key, Request request,
                                                         Options options, dns::Deadline deadline,
                                                         dns::Clock::time_point now) {
  ++stats_.misses;
  metrics().add(metrics().ids().result_cache, {"spf", "miss"});
  dns::RecordingResolver recorded(resolver);
  Outcome out = co_await spf::check_host(recorded, request, std::move(options), deadline);
  if (out.reusable && out.result != Result::TempError && recorded.reusable() && bytes_of(out) <= kMaxEntryBytes) {
    // Expiry counted from before the first question: never later than the shortest-lived answer's.
    const auto ttl = std::min<std::chrono::seconds>(std::chrono::seconds(recorded.min_ttl()), max_age_);
    Entry entry{out, {}, {}, {}};
    if (out.reads_request) {
      entry.sender = std::move(request.sender);
      entry.helo = std::move(request.helo);
      entry.receiver = std::move(request.receiver);
    }
    entries_.store(key, std::move(entry), now + ttl);
    ++stats_.stored;
  }
  co_return out;
}

}  // namespace spfgate::spf
