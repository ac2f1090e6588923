// policy/decision.hpp: turning the checks' verdicts into exactly one answer.
//
//   Decision d = decide(verdicts, settings, request.can_prepend());
//
// Verdicts arrive in precedence order: bypass lists, helo_access, HELO checks, iprev, SPF. The rules:
//   1. The first Bypass (or a final Accept/Reject/Defer from helo_access) decides alone.
//   2. Otherwise any Reject decides (unless a helo_access DEFER_IF_REJECT turns it into that deferral);
//      when several checks failed (rejected, or deferred other than for a temporary DNS failure), the
//      reply says so (RFC 7372 §3.4): "550 5.7.26 Multiple authentication checks failed: <reason>;
//      <reason>", or "450 4.7.26 ..." when none of them rejects.
//   3. Otherwise the first Defer, then the first DeferIfPermit, then the first Accept (a pass
//      restriction class) decides.
//   4. Otherwise the headers of the Annotate/Warn/Accept verdicts are prepended: one per answer, so the
//      first goes out now and the rest wait for later requests of the same message (Postfix takes one
//      PREPEND per answer). With Header_Type AR, the Authentication-Results entries of all checks are
//      joined into one header. No header (or Header_Type None, or outside a mail transaction): DUNNO.
// decide() is pure: no I/O, no logging.
#pragma once

#include "config/settings.hpp"
#include "policy/check.hpp"

#include <string>
#include <vector>

namespace spfgate::policy {

enum class DecisionKind { Dunno, Prepend, Accept, Reject, Defer, DeferIfPermit };
std::string_view to_string(DecisionKind kind) noexcept;

struct Decision {
  DecisionKind kind = DecisionKind::Dunno;
  std::string action;                  // the reply after "action=" (for Dunno: "dunno")
  std::vector<std::string> later_headers;  // headers for later requests of the same message (at most
                                           // one or two: a vector, since std::deque allocates even empty)
  std::vector<std::string> unsent_headers;  // headers not prepended (Header_Type None / no transaction)
  std::string deciding_check;          // the check whose verdict decided (empty if none)
  bool error_result = false;
  bool cacheable = true;
};

Decision decide(const std::vector<Verdict>& verdicts, const config::Settings& settings, bool can_prepend);

}  // namespace spfgate::policy
