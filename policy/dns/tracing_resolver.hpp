// policy/dns/tracing_resolver.hpp: a Resolver that records every query it passes on.
//
//   TracingResolver traced(real);
//   ... co_await traced.query(...) ...;
//   for (const auto& q : traced.log()) print(q.name, q.type, q.answer.status, q.answer.dnssec, q.elapsed);
//
// For `spfgate check`, which prints every DNS query a decision made, with its outcome and DNSSEC state.
// Single-threaded; the log grows with every query (use it for one request).
#pragma once

#include "policy/dns/resolver.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace spfgate::dns {

class TracingResolver final : public Resolver {
 public:
  struct Entry {
    std::string name;
    RrType type;
    DnsAnswer answer;
    std::chrono::microseconds elapsed{0};
  };

  explicit TracingResolver(Resolver& inner) : inner_(inner) {}

  boost::asio::awaitable<DnsAnswer> query(std::string name, RrType type, Deadline deadline) override {
    const auto start = Clock::now();
    std::string asked = normalize_name(name);
    DnsAnswer answer = co_await inner_.query(std::move(name), type, deadline);
    log_.push_back(Entry{std::move(asked), type, answer,
                         std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start)});
    co_return answer;
  }

  const std::vector<Entry>& log() const noexcept { return log_; }

 private:
  Resolver& inner_;
  std::vector<Entry> log_;
};

}  // namespace spfgate::dns
