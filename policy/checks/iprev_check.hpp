// policy/checks/iprev_check.hpp: forward-confirmed reverse DNS of the client (RFC 8601 §3 "iprev").
//
// PTR of the client address, then A (IPv4 client) or AAAA (IPv6) of each name, at most 10 names, all
// of them looked up concurrently: pass if any name maps back to the client. Unlike Postfix's
// reject_unknown_client_hostname, every PTR name is tried, not only the first. Results:
//   pass       a name resolves back to the client
//   fail       PTR names exist, none resolves back          (iprev-fail)
//   permerror  no PTR record                                (iprev-permerror)
//   temperror  SERVFAIL, timeout or DNSSEC-bogus answers    (iprev-temperror)
// Each result's action is configurable (default off). The check runs when an action is set or with
// iprev-header; its result then also appears in Authentication-Results ("iprev=pass policy.iprev=...").
// Replies are Postfix's: "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.1]" (and
// "... cannot find your reverse hostname, [...]" when there is no PTR), with iprev-reject-code (default
// 450, Postfix's unknown_client_reject_code) and RFC 7372's X.7.25; a temporary failure is always 450.
// The lookup is shared with Domain_Whitelist_PTR (policy/evidence.hpp), which uses the confirmed names.
#pragma once

#include "policy/check.hpp"

#include <memory>
#include <vector>

namespace spfgate::policy {

std::vector<std::unique_ptr<Check>> make_iprev_checks(std::shared_ptr<const config::Settings> settings);

}  // namespace spfgate::policy
