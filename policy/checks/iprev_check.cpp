#include "policy/checks/iprev_check.hpp"

#include "common/text.hpp"
#include "policy/checks/helo_checks.hpp"
#include "policy/spf/header.hpp"

#include <algorithm>

namespace spfgate::policy {

namespace asio = boost::asio;
using config::CheckMode;

namespace {

class IprevCheck final : public Check {
 public:
  explicit IprevCheck(std::shared_ptr<const config::Settings> s) : s_(std::move(s)) {}
  std::string_view name() const override { return "iprev"; }
  Stage stage() const override { return Stage::Iprev; }
  bool needs_dns() const override { return true; }

  asio::awaitable<Verdict> evaluate(const PolicyRequest& request, CheckContext& ctx) const override {
    if (!request.client) co_return no_client();
    const IprevEvidence ev = co_await ctx.evidence.iprev();
    co_return verdict_from(request, ev, ctx.trace);
  }

  // The client's result known already (another check's lookup) or cached: no coroutine.
  std::optional<Verdict> evaluate_now(const PolicyRequest& request, CheckContext& ctx) const override {
    if (!request.client) return no_client();
    if (const IprevEvidence* ev = ctx.evidence.iprev_now()) return verdict_from(request, *ev, ctx.trace);
    return std::nullopt;
  }

 private:
  static Verdict no_client() {
    Verdict v;
    v.check = "iprev";
    return v;
  }

  Verdict verdict_from(const PolicyRequest& request, const IprevEvidence& ev, bool trace) const {
    const config::Settings& s = *s_;
    Verdict v;
    v.check = "iprev";
    const IpAddress client = unmap(*request.client);
    v.kind = VerdictKind::Annotate;
    v.results.emplace_back("", std::string(to_string(ev.result)));
    const std::string comment = ev.confirmed_names.empty() ? std::string() : ev.confirmed_names.front();
    // Only Header_Type AR uses it (decide()); it costs as much to build as the header.
    if (s.header_type.ar) v.ar_method = spf::resinfo_iprev(to_string(ev.result), *request.client, comment);
    v.log = std::string(to_string(ev.result)) +
            (ev.confirmed_names.empty() ? "" : " " + ev.confirmed_names.front()) +
            (ev.why.empty() ? "" : " (" + ev.why + ")") + (ev.secure ? " [dnssec]" : "");
    if (trace) {
      std::string names;
      for (const auto& n : ev.ptr_names) {
        const bool ok = std::find(ev.confirmed_names.begin(), ev.confirmed_names.end(), n) != ev.confirmed_names.end();
        names += (names.empty() ? "" : ", ") + n + (ok ? " (confirmed)" : " (does not resolve back)");
      }
      v.trace.push_back("PTR names of " + client.to_string() + ": " + (names.empty() ? "none" : names));
      v.trace.push_back("result " + std::string(to_string(ev.result)) + (ev.why.empty() ? "" : ": " + ev.why) +
                        (ev.secure ? " (DNSSEC secure)" : ""));
    }
    // Which of Postfix's restrictions the configuration stands in for decides the reply (postconf(5)):
    // with iprev-fail set, reject_unknown_client_hostname ("cannot find your hostname", 4.7.25, for every
    // failure); without it, reject_unknown_reverse_client_hostname ("cannot find your reverse hostname",
    // 4.7.1), which never looks the PTR names up forward: a failed forward lookup cannot matter to it.
    const bool client_hostname = s.iprev_fail != CheckMode::Off;
    CheckMode mode = CheckMode::Off;
    switch (ev.result) {
      case IprevResult::Pass: return v;
      case IprevResult::Fail: mode = s.iprev_fail; break;
      case IprevResult::PermError: mode = s.iprev_permerror; break;
      case IprevResult::TempError:
        if (!client_hostname && !ev.reverse_temporary) return v;
        mode = s.iprev_temperror;
        v.cacheable = false;  // a retry may succeed; do not pin the message to it
        v.temporary = true;
        break;
    }
    const std::string_view dsn = client_hostname ? "4.7.25" : "4.7.1";
    const std::string text = std::string("Client host rejected: ") +
                             (client_hostname ? "cannot find your hostname" : "cannot find your reverse hostname") +
                             ", [" + client.to_string() + "]";
    v.reason = "reverse DNS " + std::string(to_string(ev.result)) + " for " + client.to_string();
    switch (mode) {
      case CheckMode::Off: break;
      case CheckMode::Warn: v.kind = VerdictKind::Warn; break;
      case CheckMode::Reject: {
        // Postfix: "The reply is always 450 in case the address->name or name->address lookup failed due to
        // a temporary problem."
        const unsigned code = ev.result == IprevResult::TempError ? 450 : s.iprev_reject_code;
        v.action = smtp_reply(code, dsn, text);
        v.kind = code >= 500 ? VerdictKind::Reject : VerdictKind::Defer;
        break;
      }
      case CheckMode::Defer:
        v.action = smtp_reply(450, dsn, text);
        v.kind = VerdictKind::Defer;
        break;
    }
    return v;
  }

  std::shared_ptr<const config::Settings> s_;
};

}  // namespace

std::vector<std::unique_ptr<Check>> make_iprev_checks(std::shared_ptr<const config::Settings> settings) {
  std::vector<std::unique_ptr<Check>> out;
  const auto& s = *settings;
  // Looked up only when something uses it: an action, or iprev-header. Its result then also goes into the
  // Authentication-Results header (when Header_Type has AR); by default the header stays pypolicyd-spf's.
  if (s.iprev_fail != CheckMode::Off || s.iprev_permerror != CheckMode::Off || s.iprev_temperror != CheckMode::Off ||
      s.iprev_header)
    out.push_back(std::make_unique<IprevCheck>(settings));
  return out;
}

}  // namespace spfgate::policy
