// policy/checks/bypass.hpp: pypolicyd-spf's bypass lists, as checks of the Bypass stage.
//
// A client that matches one is not checked further; the answer is an X-Comment (or Authentication-Results
// "none") header saying why, exactly as pypolicyd-spf writes it (reference §4.6 (d), §4.7). In order:
//   skip_addresses        client address in a CIDR list      "SPF check N/A for local connections"
//   Whitelist             client address in a CIDR list      "SPF skipped for whitelisted relay"
//   Domain_Whitelist      SPF pass for a listed domain       "SPF skipped for whitelisted relay domain"
//   HELO_Whitelist        HELO listed and resolving to the client  "SPF skipped for whitelisted HELO domain"
//   Domain_Whitelist_PTR  a forward-confirmed PTR name in a listed domain (label boundary)
//                                                            "SPF skipped for PTR whitelisted relay domain"
// Differences from pypolicyd-spf (on purpose): Domain_Whitelist_PTR uses the iprev result — only names
// that resolve back to the client count, all PTR names are tried, and "trusted.example.net" matches
// host.trusted.example.net but not host.untrusted.example.net. Name lookups are bounded by
// Whitelist_Lookup_Time and run concurrently with the other checks.
#pragma once

#include "policy/check.hpp"

#include <memory>
#include <vector>

namespace spfgate::policy {

// The checks the settings ask for (none when the lists are empty).
std::vector<std::unique_ptr<Check>> make_bypass_checks(std::shared_ptr<const config::Settings> settings);

// True if `name` equals `domain` or ends with "." + domain (case-insensitive, trailing dots ignored).
bool in_domain(std::string_view name, std::string_view domain);

}  // namespace spfgate::policy
