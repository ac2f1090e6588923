#include "server/resolver_factory.hpp"

#include "policy/dns/caching_resolver.hpp"
#include "policy/dns/metrics_resolver.hpp"
#include "policy/dns/unbound_resolver.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <exception>

namespace spfgate::server {

namespace {

// Spawn mode starts a process for every SMTP session, so start-up is on every session's path, and two
// thirds of it are libunbound's (ub_ctx_create() seeds its random generator with about 10 million
// instructions, finalizing the context 4 million more; tests/bench/README.md). The context is therefore built
// at the first lookup, and libunbound.so.8 is loaded then (policy/dns/libunbound.hpp): a request that needs
// no DNS (skip_addresses, Whitelist, helo_access) is answered without either. A broken resolver configuration still ends the process with start-up's status 2, at that first
// lookup instead of at start; Postfix sees the same as before, the end of the policy connection.
class LazyUnboundResolver final : public dns::Resolver {
 public:
  LazyUnboundResolver(boost::asio::io_context& io, dns::UnboundOptions options)
      : io_(io), options_(std::move(options)) {}

  boost::asio::awaitable<dns::DnsAnswer> query(std::string name, dns::RrType type, dns::Deadline deadline) override {
    if (!resolver_) {
      try {
        resolver_ = std::make_unique<dns::UnboundResolver>(io_.get_executor(), options_);
      } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        std::exit(2);
      }
    }
    co_return co_await resolver_->query(std::move(name), type, deadline);
  }

 private:
  boost::asio::io_context& io_;
  dns::UnboundOptions options_;
  std::unique_ptr<dns::UnboundResolver> resolver_;
};

// Another thread's view of the shared resolver: queries go to it, ownership stays with the server.
class BorrowedResolver final : public dns::Resolver {
 public:
  explicit BorrowedResolver(dns::Resolver& target) : target_(target) {}
  boost::asio::awaitable<dns::DnsAnswer> query(std::string name, dns::RrType type, dns::Deadline deadline) override {
    return target_.query(std::move(name), type, deadline);
  }

 private:
  dns::Resolver& target_;
};

std::unique_ptr<dns::Resolver> in_front(std::unique_ptr<dns::Resolver> resolver, const config::Settings& s) {
  if (s.dns_cache_entries > 0) {
    // Repeated questions are answered on the asking thread, without a round trip to libunbound's.
    dns::CacheOptions cache;
    cache.max_entries = s.dns_cache_entries;
    cache.max_bytes = s.dns_cache_memory;
    resolver = std::make_unique<dns::CachingResolver>(std::move(resolver), std::move(cache));
  }
  // Outermost: every answer a check gets is counted, from the cache or not.
  return std::make_unique<dns::MetricsResolver>(std::move(resolver));
}

}  // namespace

std::unique_ptr<dns::Resolver> make_shared_resolver(boost::asio::io_context& io, const config::Settings& s) {
  dns::UnboundOptions o;
  o.forwarders = s.dns_forwarders;
  o.config_file = s.resolver_config;
  o.trust_anchor_file = s.trust_anchor_file;
  o.validate = s.dnssec;
  o.query_timeout = s.dns_query_timeout;
  o.max_outstanding = s.dns_max_outstanding;
  o.msg_cache_bytes = s.dns_cache_bytes;
  o.rrset_cache_bytes = 2 * s.dns_cache_bytes;
  std::unique_ptr<dns::Resolver> resolver;
  if (s.spawn) resolver = std::make_unique<LazyUnboundResolver>(io, std::move(o));
  else resolver = std::make_unique<dns::UnboundResolver>(io.get_executor(), std::move(o));
  if (!s.dnssec)
    spdlog::warn("DNSSEC validation is off (dnssec = no): forged DNS answers cannot be told from real ones");
  // Once per daemon, but once per SMTP session in spawn mode: there it is a debug line.
  std::string upstream = "full recursion";
  if (!s.dns_forwarders.empty()) {
    upstream = "forwarding to ";
    for (std::size_t i = 0; i < s.dns_forwarders.size(); ++i) upstream += (i ? ", " : "") + s.dns_forwarders[i];
  }
  spdlog::log(s.spawn ? spdlog::level::debug : spdlog::level::info, "resolver: {}{}{}", upstream,
              s.resolver_config.empty() ? "" : ", config " + s.resolver_config,
              s.dnssec ? ", DNSSEC validation on" : "");
  return resolver;
}

std::unique_ptr<dns::Resolver> make_thread_resolver(dns::Resolver& shared, const config::Settings& s) {
  return in_front(std::make_unique<BorrowedResolver>(shared), s);
}

std::unique_ptr<dns::Resolver> make_resolver(boost::asio::io_context& io, const config::Settings& s) {
  return in_front(make_shared_resolver(io, s), s);
}

}  // namespace spfgate::server
