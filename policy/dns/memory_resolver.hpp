// policy/dns/memory_resolver.hpp: a Resolver answering from zone data held in memory.
//
// For unit tests, the RFC 7208 conformance suite and benchmarks. Zone data is added in code:
//
//   MemoryResolver r;
//   r.add_txt("example.com", {"v=spf1 mx -all"});
//   r.add_mx("example.com", 10, "mx.example.com");
//   r.add_a("mx.example.com", "192.0.2.1");
//   r.add_name_failure("slow.example.com", DnsStatus::Timeout);   // every type times out
//
// Semantics follow a recursive resolver: a name with no entry at all is NXDOMAIN, a name with entries but
// none of the asked type is NODATA, CNAMEs are followed (at most kMaxCnameChain links; a loop or a longer
// chain is SERVFAIL). Entries keep their order, which matters for failures, as in pyspf's test driver: a
// name failure applies to a type only if no record of that type was added before it.
// Timeout answers complete immediately unless real_timeouts(true), which makes them wait for the deadline.
// An optional latency delays every answer on the calling coroutine's executor (to test concurrency).
// Every query is recorded (queries()) so tests can count lookups.
#pragma once

#include "policy/dns/resolver.hpp"

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace spfgate::dns {

class MemoryResolver final : public Resolver {
 public:
  static constexpr int kMaxCnameChain = 10;

  void add_a(std::string_view name, std::string_view address);     // A or AAAA, by the address's family
  void add_txt(std::string_view name, std::vector<std::string> strings);
  void add_mx(std::string_view name, std::uint16_t preference, std::string_view exchange);
  void add_ptr(std::string_view name, std::string_view target);
  void add_cname(std::string_view name, std::string_view target);
  void add_ns(std::string_view name, std::string_view target);
  // The PTR record for an address (adds under its reverse name).
  void add_reverse(const IpAddress& address, std::string_view target);

  // Every query for `name` fails with `status` (Timeout, ServFail, Error, Bogus) unless a record of the
  // asked type was added before this call.
  void add_name_failure(std::string_view name, DnsStatus status, std::string why = {});
  // Queries of one type for `name` fail with `status`.
  void add_type_failure(std::string_view name, RrType type, DnsStatus status, std::string why = {});
  // The name exists (so other types give NODATA, not NXDOMAIN) without records of its own.
  void add_empty_name(std::string_view name);
  // DNSSEC state reported for answers about `name` (default Insecure). Bogus turns answers into Bogus.
  void set_dnssec(std::string_view name, Dnssec state);

  void set_latency(std::chrono::milliseconds latency) { latency_ = latency; }
  void real_timeouts(bool wait) { real_timeouts_ = wait; }
  void set_ttl(std::uint32_t ttl) { ttl_ = ttl; }

  boost::asio::awaitable<DnsAnswer> query(std::string name, RrType type, Deadline deadline) override;

  // The synchronous core of query(), without latency or waiting; usable outside a coroutine.
  DnsAnswer lookup(std::string_view name, RrType type) const;

  const std::vector<std::pair<std::string, RrType>>& queries() const noexcept { return queries_; }
  std::size_t query_count() const noexcept { return queries_.size(); }
  void clear_queries() { queries_.clear(); }
  void clear();

 private:
  struct Failure {
    DnsStatus status;
    std::string why;
    bool whole_name;  // false: only for `type`
  };
  using Data = std::variant<std::string, std::vector<std::string>, MxRecord, IpAddress>;
  struct Entry {
    RrType type;
    std::variant<Data, Failure> value;
  };

  void add(std::string_view name, RrType type, std::variant<Data, Failure> value);
  DnsAnswer lookup_one(const std::string& name, RrType type, int depth) const;

  std::map<std::string, std::vector<Entry>, std::less<>> zone_;
  std::map<std::string, Dnssec, std::less<>> dnssec_;
  std::vector<std::pair<std::string, RrType>> queries_;
  std::chrono::milliseconds latency_{0};
  bool real_timeouts_ = false;
  std::uint32_t ttl_ = 300;
};

}  // namespace spfgate::dns
