#include "policy/spf/outcome_cache.hpp"

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

asio::awaitable<Outcome> OutcomeCache::check_host(dns::Resolver& resolver, Request request, Options options,
                                                  dns::Deadline deadline) {
  if (options.trace || entries_.max_entries() == 0)
    co_return co_await spf::check_host(resolver, std::move(request), std::move(options), deadline);
  const std::string key = key_of(request);
  const dns::Clock::time_point now = clock_ ? clock_() : dns::Clock::now();
  if (const Entry* e = entries_.find(key, now)) {
    if (!e->outcome.reads_request ||
        (e->sender == request.sender && e->helo == request.helo && e->receiver == request.receiver)) {
      ++stats_.hits;
      metrics().add(metrics().ids().result_cache, {"spf", "hit"});
      Outcome hit = e->outcome;
      hit.from_cache = true;
      hit.dns_queries = 0;
      co_return hit;
    }
  }
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
