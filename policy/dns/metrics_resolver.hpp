// policy/dns/metrics_resolver.hpp: a Resolver that counts every answer by outcome and DNSSEC state
// (spfgate_dns_queries_total{status,dnssec}), times it (spfgate_dns_query_duration_seconds) and passes it
// on unchanged.
#pragma once

#include "common/metrics.hpp"
#include "policy/dns/resolver.hpp"

#include <memory>

namespace spfgate::dns {

class MetricsResolver final : public Resolver {
 public:
  explicit MetricsResolver(std::unique_ptr<Resolver> inner) : inner_(std::move(inner)) {}

  boost::asio::awaitable<DnsAnswer> query(std::string name, RrType type, Deadline deadline) override {
    const auto start = Clock::now();
    DnsAnswer a = co_await inner_->query(std::move(name), type, deadline);
    Metrics& m = metrics();
    m.add(m.ids().dns_queries, {to_string(a.status), to_string(a.dnssec)});
    m.observe_dns(std::chrono::duration<double>(Clock::now() - start).count());
    co_return a;
  }

  Resolver& inner() noexcept { return *inner_; }

 private:
  std::unique_ptr<Resolver> inner_;
};

}  // namespace spfgate::dns
