// policy/evidence.hpp: facts about one request that several checks need, each looked up at most once.
//
// The iprev lookup (PTR names of the client, then their addresses) is needed by the iprev check and by
// Domain_Whitelist_PTR; whoever asks first starts it, the others wait for the same result:
//
//   const IprevEvidence& ip = co_await ctx.evidence.iprev();
//   if (const IprevEvidence* ip = ctx.evidence.iprev_now()) ...   // known already, or cached: no waiting
//
// With an IprevCache, a result is reused for the smallest TTL of its answers (never a TempError, never one
// that met a temporary answer), so a client's next message costs no lookup.
// Failure: never throws for DNS faults (they are a TempError result).
#pragma once

#include "common/async.hpp"
#include "common/expiring_lru.hpp"
#include "common/ip.hpp"
#include "policy/dns/resolver.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace spfgate::policy {

// RFC 8601 §2.7.3 iprev results (there is no "none": every client has an address).
enum class IprevResult { Pass, Fail, PermError, TempError };
std::string_view to_string(IprevResult result) noexcept;

struct IprevEvidence {
  IprevResult result = IprevResult::TempError;
  std::vector<std::string> ptr_names;        // names the PTR lookup returned (at most the limit)
  std::vector<std::string> confirmed_names;  // those whose A/AAAA include the client address
  std::string why;                           // for fail/permerror/temperror: what happened
  bool secure = false;                       // the deciding answers were DNSSEC-validated
  // TempError only: the PTR lookup itself failed (true) or a forward lookup of a PTR name did (false).
  // Postfix's reject_unknown_reverse_client_hostname never looks names up forward, so only the first
  // kind can matter to it.
  bool reverse_temporary = false;
  unsigned dns_queries = 0;
  bool from_cache = false;
};

// iprev results by client address, reused for the smallest TTL of their answers (at most an hour); owned
// by the Engine.
using IprevCache = ExpiringLru<IprevEvidence>;
inline constexpr std::chrono::seconds kMaxIprevCacheAge{3600};

// RFC 8601 §3 (via RFC 7208 §4.6.4): the number of PTR names evaluated must be limited.
inline constexpr unsigned kMaxIprevNames = 10;

// The lookup itself: PTR of `client`, then A or AAAA (the client's family) of each name, concurrently.
boost::asio::awaitable<IprevEvidence> lookup_iprev(dns::Resolver& resolver, IpAddress client,
                                                   dns::Deadline deadline, unsigned max_names = kMaxIprevNames);

class Evidence {
 public:
  // `cache` (may be null) must outlive the Evidence.
  Evidence(dns::Resolver& resolver, std::optional<IpAddress> client, dns::Deadline deadline,
           IprevCache* cache = nullptr);

  // Only valid when the request has a client address.
  boost::asio::awaitable<IprevEvidence> iprev() { return iprev_.get(); }
  bool iprev_started() const noexcept { return iprev_.started(); }
  // The result without waiting, when it is known: computed already, or a hit of the cache (counted, and
  // from then on this request's result). Null otherwise, with nothing counted: co_await iprev().
  const IprevEvidence* iprev_now();

 private:
  std::optional<IpAddress> client_;
  IprevCache* cache_;
  SharedResult<IprevEvidence> iprev_;
};

}  // namespace spfgate::policy
