// policy/checks/spf_check.hpp: the SPF stage — HELO and MAIL FROM identities with pypolicyd-spf's policy.
//
// One check evaluates both identities (concurrently, within one Lookup_Time budget) and then applies
// pypolicyd-spf 3.0.4's decision logic (reference pypolicyd-spf.md §4.2-§4.6) so that answers are
// byte-compatible: HELO first (its reject or defer wins), then MAIL FROM; HELO_reject / Mail_From_reject
// (SPF_Not_Pass, Softfail, Fail, Null, False, No_Check), PermError_reject, TempError_Defer,
// Reject_Not_Pass_Domains, No_Mail, the pass restrictions, the reject/defer texts with RFC 7372 codes and
// Reason_Message, and the Received-SPF / Authentication-Results header of the deciding identity.
//
// pypolicyd-spf's bugs are fixed, not copied (README "Migrating from pypolicyd-spf"):
//  - MAIL FROM none with a HELO result no longer prepends the HELO header (CVE-2019-20790): when the
//    sender is not null, the header is always the MAIL FROM one (identity=mailfrom);
//  - an empty HELO is not replaced by the sender's domain for the HELO check (no bogus s=helo rejects);
//  - Reject_Not_Pass_Domains entries cover the domain and its subdomains (pypolicyd-spf matched inverted);
//  - only HELO_pass_restriction set and both identities pass: answers that restriction (not "None");
//  - SERVFAIL/REFUSED are temperror (the evaluator's job), and both identities share one Lookup_Time;
//  - no dead openspf.org URL: {url} is Why_URL's, and the default text has no URL unless Why_URL is set.
// Also here: Domain_Whitelist (a bypass list that needs an SPF evaluation).
#pragma once

#include "policy/check.hpp"

#include <memory>
#include <vector>

namespace spfgate::policy {

std::vector<std::unique_ptr<Check>> make_spf_checks(std::shared_ptr<const config::Settings> settings);
std::vector<std::unique_ptr<Check>> make_domain_whitelist_checks(std::shared_ptr<const config::Settings> settings);

}  // namespace spfgate::policy
