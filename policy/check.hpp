// policy/check.hpp: the Check interface, and how one request travels through the pipeline.
//
// One request, step by step:
//   1. The server parses the request (server/codec) and hands a PolicyRequest to the Engine.
//   2. The Engine answers from the per-message cache if this message (`instance`) was already decided.
//   3. The Pipeline runs the local checks (no DNS: bypass lists, helo_access, HELO syntax) in order; a
//      Bypass or an explicit (final) decision stops them there, as in a Postfix restriction list. Then it
//      runs every DNS check of the stages still relevant concurrently (iprev, HELO resolvability, SPF for
//      HELO and MAIL FROM, name-based whitelists); they share one Resolver, one deadline and one Evidence
//      object (e.g. the iprev result, computed once for all who need it).
//   4. decide() turns the verdicts, in precedence order, into exactly one action and the headers to add.
//   5. The Engine applies TestOnly, stores the outcome in the per-message cache, and returns the answer
//      and the decision log line; the server writes "action=...".
//
// A Check is small: a name, whether it needs DNS, and evaluate() (with evaluate_now() for when the verdict
// can be had without waiting: always for a LocalCheck, for a DNS check when its cached results suffice).
// It is built from its configuration when the configuration is loaded (a bad value throws config::Error
// then, never while serving) and is immutable afterwards, so one instance serves all connections of a
// worker (each worker thread builds its own Engine); the one exception is a cache of results (the SPF checks' spf::OutcomeCache), mutable on
// that worker's thread and gone with the configuration. Checks never write replies; they return a
// Verdict. evaluate() must not throw for DNS or input faults — those are verdicts too.
#pragma once

#include "config/settings.hpp"
#include "policy/dns/resolver.hpp"
#include "policy/evidence.hpp"
#include "policy/request.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::policy {

// Precedence of the checks, highest first. A final verdict at one stage makes every later stage moot.
enum class Stage { Bypass, HeloAccess, HeloSanity, Iprev, Spf };
std::string_view to_string(Stage stage) noexcept;

enum class VerdictKind {
  Skip,           // not applicable, or nothing to say
  Annotate,       // no decision, but a header / Authentication-Results entry / log detail
  Bypass,         // stop checking and answer with this verdict's header (skip_addresses, whitelists)
  Accept,         // an explicit accept (helo_access OK, a pass restriction class): answer `action`
  Reject,         // answer `action` (5xx / REJECT ...)
  Defer,          // answer `action` now (4xx / DEFER ...)
  DeferIfPermit,  // answer `action` unless another check rejects
  DeferIfReject,  // no decision, but if another check rejects, answer `action` (a deferral) instead
  Warn,           // would reject/defer, but the check is in warn mode: log and annotate only
};
std::string_view to_string(VerdictKind kind) noexcept;

struct Verdict {
  std::string check;          // the check's name, e.g. "spf", "iprev", "skip_addresses"
  VerdictKind kind = VerdictKind::Skip;
  std::string action;         // the reply for Accept/Reject/Defer/DeferIfPermit (sanitised later)
  std::vector<std::string> headers;  // headers to prepend, whole "Name: value" lines, in order
  std::string ar_method;      // an RFC 8601 resinfo for the combined Authentication-Results ("iprev=pass ...")
  std::string reason;         // short human reason, used when several checks fail at once
  std::string log;            // detail for the decision log line
  std::vector<std::string> trace;  // step by step, when CheckContext::trace is set (spfgate check)
  // (identity, result) pairs for metrics: {"helo","pass"}, {"mailfrom","fail"}, {"","pass"} for iprev.
  std::vector<std::pair<std::string, std::string>> results;
  bool error_result = false;  // decided by a permerror/temperror (keeps 5.7.24 for later recipients)
  bool temporary = false;     // caused by a temporary DNS failure: not counted as a failed check
  bool cacheable = true;      // may be reused for later recipients of the same message
  bool final = false;         // decides alone: checks of later stages need not run (Bypass is always final)
};

struct CheckContext {
  dns::Resolver& resolver;
  dns::Deadline deadline;
  Evidence& evidence;
  bool trace = false;         // collect per-step detail (spfgate check)
};

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  virtual Stage stage() const = 0;
  // False for checks that decide from the request alone; they run first, in order, before any DNS.
  virtual bool needs_dns() const = 0;
  virtual boost::asio::awaitable<Verdict> evaluate(const PolicyRequest& request, CheckContext& context) const = 0;
  // The verdict when it can be had without waiting (a DNS check: every result it needs is in its cache):
  // exactly what evaluate() would return. Nothing: the pipeline runs evaluate(). The warm path of every
  // request, which thus starts no coroutine for the check.
  virtual std::optional<Verdict> evaluate_now(const PolicyRequest&, CheckContext&) const { return std::nullopt; }
};

// A check that decides from the request alone, at once (bypass lists, helo_access, HELO syntax): it
// implements verdict_for(), and evaluate() and evaluate_now() both return that.
class LocalCheck : public Check {
 public:
  bool needs_dns() const final { return false; }
  virtual Verdict verdict_for(const PolicyRequest& request) const = 0;
  boost::asio::awaitable<Verdict> evaluate(const PolicyRequest& request, CheckContext&) const final {
    co_return verdict_for(request);
  }
  std::optional<Verdict> evaluate_now(const PolicyRequest& request, CheckContext&) const final {
    return verdict_for(request);
  }
};

}  // namespace spfgate::policy
