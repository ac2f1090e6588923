// policy/dns/resolver.hpp: the one interface every check uses to ask DNS a question.
//
//   dns::DnsAnswer a = co_await resolver.query("example.com", dns::RrType::TXT, deadline);
//
// A DnsAnswer keeps the distinctions the checks need: data (A/AAAA addresses, TXT character-strings, MX,
// PTR names; CNAMEs already followed by the resolver), NXDOMAIN vs NODATA, SERVFAIL vs timeout vs other
// errors, and the DNSSEC state with the validator's reason. A bogus answer carries no data: implementations
// drop it and report status Bogus, which every check treats as a temporary error.
//
// Deadlines: each query is bounded by the smaller of the resolver's own per-query timeout and the
// `deadline` argument (the request's overall deadline); when it passes the query completes with Timeout.
// query() never throws for DNS outcomes; it may throw only for programming errors or std::bad_alloc.
//
// This layer knows nothing of SPF, requests or configuration files.
#pragma once

#include "common/ip.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::dns {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

enum class RrType : std::uint16_t {
  A = 1,
  NS = 2,
  CNAME = 5,
  SOA = 6,
  PTR = 12,
  MX = 15,
  TXT = 16,
  AAAA = 28,
};
std::string_view to_string(RrType type) noexcept;

enum class DnsStatus {
  Ok,        // NOERROR with at least one record of the asked type
  NoData,    // NOERROR, no record of that type (RFC 2308 NODATA)
  NxDomain,  // RCODE 3: the name does not exist
  ServFail,  // RCODE 2, or the resolver could not reach any server
  Timeout,   // no answer before the deadline
  Bogus,     // DNSSEC validation failed; data discarded
  Error,     // any other RCODE (REFUSED, FORMERR, ...), a malformed answer, or a resolver failure
};
std::string_view to_string(DnsStatus status) noexcept;

enum class Dnssec {
  Insecure,  // not signed, or not validated (no trust anchor covers it)
  Secure,    // validated from a trust anchor
  Bogus,     // validation failed
};
std::string_view to_string(Dnssec state) noexcept;

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;  // lower case, no trailing dot
  bool operator==(const MxRecord&) const = default;
};

struct DnsAnswer {
  DnsStatus status = DnsStatus::Error;
  Dnssec dnssec = Dnssec::Insecure;
  std::string why;         // human reason for anything but Ok/NoData/NxDomain (and for Bogus: why_bogus)
  std::uint32_t ttl = 0;   // seconds the answer may be cached (negative answers: the SOA minimum)

  std::vector<IpAddress> addresses;             // A / AAAA
  std::vector<std::vector<std::string>> txt;    // TXT: one entry per record, its character-strings in order
  std::vector<MxRecord> mx;                     // MX
  std::vector<std::string> names;               // PTR (and NS, CNAME): lower case, no trailing dot

  bool ok() const noexcept { return status == DnsStatus::Ok; }
  // RFC 7208 §4.6.4 "void lookup": NOERROR with no answers, or NXDOMAIN.
  bool is_void() const noexcept { return status == DnsStatus::NoData || status == DnsStatus::NxDomain; }
  // SERVFAIL, timeout, bogus, other rcodes: worth retrying later; never a verdict.
  bool is_temporary() const noexcept { return !ok() && !is_void(); }

  // Convenience constructors, used by the implementations and by tests.
  static DnsAnswer failure(DnsStatus status, std::string why);
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // `name` is a domain name in presentation form, with or without the trailing dot.
  virtual boost::asio::awaitable<DnsAnswer> query(std::string name, RrType type, Deadline deadline) = 0;
};

// Helpers for names: lower case, strip one trailing dot.
std::string normalize_name(std::string_view name);

// The reverse-lookup name of an address: 4.3.2.1.in-addr.arpa / nibble form under ip6.arpa.
std::string reverse_name(const IpAddress& address);

}  // namespace spfgate::dns
