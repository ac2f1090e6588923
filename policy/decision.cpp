#include "policy/decision.hpp"

#include "common/text.hpp"
#include "policy/spf/header.hpp"

namespace spfgate::policy {

std::string_view to_string(DecisionKind kind) noexcept {
  switch (kind) {
    case DecisionKind::Dunno: return "dunno";
    case DecisionKind::Prepend: return "prepend";
    case DecisionKind::Accept: return "accept";
    case DecisionKind::Reject: return "reject";
    case DecisionKind::Defer: return "defer";
    case DecisionKind::DeferIfPermit: return "defer_if_permit";
  }
  return "?";
}

std::string_view to_string(VerdictKind kind) noexcept {
  switch (kind) {
    case VerdictKind::Skip: return "skip";
    case VerdictKind::Annotate: return "annotate";
    case VerdictKind::Bypass: return "bypass";
    case VerdictKind::Accept: return "accept";
    case VerdictKind::Reject: return "reject";
    case VerdictKind::Defer: return "defer";
    case VerdictKind::DeferIfPermit: return "defer_if_permit";
    case VerdictKind::DeferIfReject: return "defer_if_reject";
    case VerdictKind::Warn: return "warn";
  }
  return "?";
}

namespace {

Decision from_verdict(const Verdict& v, DecisionKind kind) {
  Decision d;
  d.kind = kind;
  d.action = v.action;
  d.deciding_check = v.check;
  d.error_result = v.error_result;
  d.cacheable = v.cacheable;
  return d;
}

// The reply when several checks failed: RFC 7372 §3.4 asks for X.7.26 rather than the first failure;
// 550 when one of them rejects, 450 when all of them defer.
Decision combined(const std::vector<const Verdict*>& failed, bool reject) {
  Decision d = from_verdict(*failed.front(), reject ? DecisionKind::Reject : DecisionKind::Defer);
  std::string reasons;
  d.deciding_check.clear();
  for (const Verdict* v : failed) {
    if (!reasons.empty()) reasons += "; ";
    reasons += v->reason.empty() ? v->check + " failed" : v->reason;
    d.deciding_check += (d.deciding_check.empty() ? "" : "+") + v->check;
    if (!v->cacheable) d.cacheable = false;
  }
  d.action = std::string(reject ? "550 5.7.26" : "450 4.7.26") + " Multiple authentication checks failed: " + reasons;
  return d;
}

// Splits the headers into "now" and "later", honouring Header_Type None and the protocol stage.
Decision with_headers(std::vector<std::string> headers, const config::Settings& settings, bool can_prepend,
                      Decision d) {
  if (headers.empty()) {
    d.kind = DecisionKind::Dunno;
    d.action = "dunno";
    return d;
  }
  if (settings.header_type.none() || !can_prepend) {
    d.kind = DecisionKind::Dunno;
    d.action = "dunno";
    d.unsent_headers = std::move(headers);
    return d;
  }
  d.kind = DecisionKind::Prepend;
  d.action = "prepend " + headers.front();
  for (std::size_t i = 1; i < headers.size(); ++i) d.later_headers.push_back(std::move(headers[i]));
  return d;
}

}  // namespace

Decision decide(const std::vector<Verdict>& verdicts, const config::Settings& settings, bool can_prepend) {
  // 1. Bypass lists decide alone.
  for (const Verdict& v : verdicts)
    if (v.kind == VerdictKind::Bypass) {
      Decision d;
      d.deciding_check = v.check;
      d.cacheable = v.cacheable;
      return with_headers(v.headers, settings, can_prepend, std::move(d));
    }

  // 2. Rejections. When other checks failed too (their own answer would have been a reject or a 4xx
  //    deferral, but not a temporary DNS failure), the reply names them all. A helo_access
  //    DEFER_IF_REJECT turns the reject into its deferral (Postfix's defer_if_reject).
  std::vector<const Verdict*> failed;
  const Verdict* first_reject = nullptr;
  const Verdict* defer_if_reject = nullptr;
  for (const Verdict& v : verdicts) {
    if (v.kind == VerdictKind::Reject && !first_reject) first_reject = &v;
    if (v.kind == VerdictKind::DeferIfReject && !defer_if_reject) defer_if_reject = &v;
    if (v.kind == VerdictKind::Reject || (v.kind == VerdictKind::Defer && !v.temporary)) failed.push_back(&v);
  }
  if (first_reject && defer_if_reject) return from_verdict(*defer_if_reject, DecisionKind::Defer);
  if (first_reject && failed.size() == 1) return from_verdict(*first_reject, DecisionKind::Reject);
  if (failed.size() > 1) return combined(failed, first_reject != nullptr);

  // 3. Deferrals, then explicit accepts.
  for (VerdictKind kind : {VerdictKind::Defer, VerdictKind::DeferIfPermit, VerdictKind::Accept})
    for (const Verdict& v : verdicts)
      if (v.kind == kind)
        return from_verdict(v, kind == VerdictKind::Defer           ? DecisionKind::Defer
                               : kind == VerdictKind::DeferIfPermit ? DecisionKind::DeferIfPermit
                                                                    : DecisionKind::Accept);

  // 4. Headers.
  std::vector<std::string> headers;
  spf::AuthenticationResults ar(settings.authserv_id);
  // spf= first (pypolicyd-spf's header, extended), then the other methods (iprev=) in precedence order.
  for (const Verdict& v : verdicts)
    if (v.check == "spf" && v.kind == VerdictKind::Annotate && !v.ar_method.empty()) ar.add_resinfo(v.ar_method);
  for (const Verdict& v : verdicts) {
    if (v.kind != VerdictKind::Annotate && v.kind != VerdictKind::Warn) continue;
    headers.insert(headers.end(), v.headers.begin(), v.headers.end());
    if (v.check != "spf" && !v.ar_method.empty()) ar.add_resinfo(v.ar_method);
  }
  if (settings.header_type.ar && !ar.empty()) headers.push_back(ar.field().line());
  Decision d;
  for (const Verdict& v : verdicts)
    if (v.kind == VerdictKind::Annotate || v.kind == VerdictKind::Warn) {
      if (!v.cacheable) d.cacheable = false;
      if (d.deciding_check.empty() && !v.headers.empty()) d.deciding_check = v.check;
    }
  return with_headers(std::move(headers), settings, can_prepend, std::move(d));
}

}  // namespace spfgate::policy
