#include "server/resolver_factory.hpp"

#include "policy/dns/caching_resolver.hpp"
#include "policy/dns/unbound_resolver.hpp"

#include <spdlog/spdlog.h>

namespace spfgate::server {

std::unique_ptr<dns::Resolver> make_resolver(boost::asio::io_context& io, const config::Settings& s) {
  dns::UnboundOptions o;
  o.forwarders = s.dns_forwarders;
  o.config_file = s.resolver_config;
  o.trust_anchor_file = s.trust_anchor_file;
  o.validate = s.dnssec;
  o.query_timeout = s.dns_query_timeout;
  o.msg_cache_bytes = s.dns_cache_bytes;
  o.rrset_cache_bytes = 2 * s.dns_cache_bytes;
  auto resolver = std::make_unique<dns::UnboundResolver>(io.get_executor(), std::move(o));
  if (!s.dnssec)
    spdlog::warn("DNSSEC validation is off (dnssec = no): forged DNS answers cannot be told from real ones");
  spdlog::info("resolver: {}{}{}", s.dns_forwarders.empty() ? "full recursion" : "forwarding to " + [&] {
                 std::string l;
                 for (const auto& f : s.dns_forwarders) l += (l.empty() ? "" : ", ") + f;
                 return l;
               }(), s.resolver_config.empty() ? "" : ", config " + s.resolver_config,
               s.dnssec ? ", DNSSEC validation on" : "");
  if (s.dns_cache_entries == 0) return resolver;
  // Repeated questions are answered on this thread, without a round trip to libunbound's.
  dns::CacheOptions cache;
  cache.max_entries = s.dns_cache_entries;
  cache.max_bytes = s.dns_cache_memory;
  return std::make_unique<dns::CachingResolver>(std::move(resolver), std::move(cache));
}

}  // namespace spfgate::server
