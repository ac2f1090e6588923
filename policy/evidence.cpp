#include "policy/evidence.hpp"

#include "common/async.hpp"
#include "common/metrics.hpp"
#include "common/text.hpp"
#include "policy/dns/recording_resolver.hpp"

#include <algorithm>

namespace spfgate::policy {

namespace asio = boost::asio;

std::string_view to_string(IprevResult result) noexcept {
  switch (result) {
    case IprevResult::Pass: return "pass";
    case IprevResult::Fail: return "fail";
    case IprevResult::PermError: return "permerror";
    case IprevResult::TempError: return "temperror";
  }
  return "?";
}

namespace {

asio::awaitable<dns::DnsAnswer> forward(dns::Resolver& resolver, std::string name, dns::RrType type,
                                        dns::Deadline deadline) {
  co_return co_await resolver.query(std::move(name), type, deadline);
}

}  // namespace

asio::awaitable<IprevEvidence> lookup_iprev(dns::Resolver& resolver, IpAddress client, dns::Deadline deadline,
                                            unsigned max_names) {
  IprevEvidence ev;
  const IpAddress ip = unmap(client);
  const dns::DnsAnswer ptr = co_await resolver.query(dns::reverse_name(ip), dns::RrType::PTR, deadline);
  ++ev.dns_queries;
  if (ptr.is_temporary()) {
    ev.result = IprevResult::TempError;
    ev.reverse_temporary = true;
    ev.why = "PTR lookup " + std::string(dns::to_string(ptr.status)) + (ptr.why.empty() ? "" : ": " + ptr.why);
    co_return ev;
  }
  for (const auto& n : ptr.names) {
    if (ev.ptr_names.size() >= max_names) break;
    if (valid_hostname(n) &&  // Postfix refuses other PTR names too
         std::find(ev.ptr_names.begin(), ev.ptr_names.end(), n) == ev.ptr_names.end())
      ev.ptr_names.push_back(n);
  }
  if (ev.ptr_names.empty()) {
    ev.result = IprevResult::PermError;
    ev.why = ptr.ok() ? "no valid host name in the PTR records" : "no PTR record";
    co_return ev;
  }
  // Forward lookups of every name at once (RFC 8601 §3: all names, not only the first as Postfix does).
  const dns::RrType type = ip.is_v4() ? dns::RrType::A : dns::RrType::AAAA;
  std::vector<asio::awaitable<dns::DnsAnswer>> lookups;
  for (const auto& name : ev.ptr_names) lookups.push_back(forward(resolver, name, type, deadline));
  const std::vector<dns::DnsAnswer> answers = co_await gather(std::move(lookups));
  ev.dns_queries += static_cast<unsigned>(answers.size());
  bool temporary = false;
  std::string temporary_why;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const auto& a = answers[i];
    if (a.is_temporary()) {
      temporary = true;
      if (temporary_why.empty())
        temporary_why = ev.ptr_names[i] + ": " + std::string(dns::to_string(a.status)) +
                        (a.why.empty() ? "" : " (" + a.why + ")");
      continue;
    }
    for (const auto& addr : a.addresses)
      if (unmap(addr) == ip) {
        ev.confirmed_names.push_back(ev.ptr_names[i]);
        if (a.dnssec == dns::Dnssec::Secure && ptr.dnssec == dns::Dnssec::Secure) ev.secure = true;
        break;
      }
  }
  if (!ev.confirmed_names.empty()) {
    ev.result = IprevResult::Pass;
  } else if (temporary) {
    ev.result = IprevResult::TempError;
    ev.why = "forward lookup failed for " + temporary_why;
  } else {
    ev.result = IprevResult::Fail;
    ev.why = "no PTR name resolves back to " + ip.to_string();
  }
  co_return ev;
}

namespace {

std::string iprev_key(const IpAddress& client) {
  std::string key;
  append_octets(key, client);
  return key;
}

// A cache hit as this request's result, counted.
IprevEvidence from_cache(const IprevEvidence& hit) {
  metrics().add(metrics().ids().result_cache, {"iprev", "hit"});
  IprevEvidence ev = hit;
  ev.from_cache = true;
  ev.dns_queries = 0;
  return ev;
}

}  // namespace

Evidence::Evidence(dns::Resolver& resolver, std::optional<IpAddress> client, dns::Deadline deadline,
                   IprevCache* cache)
    : client_(client),
      cache_(cache),
      iprev_([&resolver, client, deadline, cache]() -> asio::awaitable<IprevEvidence> {
        if (!client) {
          IprevEvidence none;
          none.result = IprevResult::PermError;
          none.why = "no client address";
          co_return none;
        }
        if (!cache) co_return co_await lookup_iprev(resolver, *client, deadline);
        const std::string key = iprev_key(*client);
        const auto now = dns::Clock::now();
        if (const IprevEvidence* hit = cache->find(key, now)) co_return from_cache(*hit);
        metrics().add(metrics().ids().result_cache, {"iprev", "miss"});
        // Kept for its shortest-lived answer; not at all after a temporary one (a retry may confirm more
        // names), which also covers every TempError.
        dns::RecordingResolver recorded(resolver);
        IprevEvidence ev = co_await lookup_iprev(recorded, *client, deadline);
        if (recorded.reusable())
          cache->store(key, ev,
                       now + std::min<std::chrono::seconds>(std::chrono::seconds(recorded.min_ttl()), kMaxIprevCacheAge));
        co_return ev;
      }) {}

const IprevEvidence* Evidence::iprev_now() {
  if (const IprevEvidence* known = iprev_.value_if_ready()) return known;
  if (iprev_.started() || !cache_ || !client_) return nullptr;
  const IprevEvidence* hit = cache_->find(iprev_key(*client_), dns::Clock::now());
  if (!hit) return nullptr;
  iprev_.complete(from_cache(*hit));
  return iprev_.value_if_ready();
}

}  // namespace spfgate::policy
