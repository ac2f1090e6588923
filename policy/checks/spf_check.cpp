#include "policy/checks/spf_check.hpp"

#include "common/text.hpp"
#include "policy/checks/bypass.hpp"
#include "policy/identity.hpp"
#include "policy/spf/evaluator.hpp"
#include "policy/spf/header.hpp"
#include "policy/spf/outcome_cache.hpp"

#include <algorithm>

namespace spfgate::policy {

namespace asio = boost::asio;
using config::RejectPolicy;
using spf::Identity;
using spf::Result;

namespace {

enum class Act { Prepend, Reject, Defer, Dunno };

// pypolicyd-spf's _get_resultcodes(): what a policy does with each result (reference §4.3).
Act action_for(RejectPolicy policy, Result r, const config::Settings& s) {
  if (policy == RejectPolicy::False || policy == RejectPolicy::NoCheck) return Act::Prepend;
  const bool reject = r == Result::Fail ||
                      (r == Result::SoftFail && (policy == RejectPolicy::SpfNotPass || policy == RejectPolicy::Softfail)) ||
                      (r == Result::Neutral && policy == RejectPolicy::SpfNotPass) ||
                      (r == Result::PermError && s.permerror_reject);
  if (reject) return Act::Reject;
  if (r == Result::TempError && s.temperror_defer) return Act::Defer;
  return Act::Prepend;
}

bool listed(const std::vector<std::string>& domains, std::string_view domain) {
  return std::any_of(domains.begin(), domains.end(), [&](const std::string& d) { return in_domain(domain, d); });
}

struct IdentityOutcome {
  bool checked = false;
  spf::Outcome outcome;
  Act act = Act::Prepend;
  std::string reason;          // pypolicyd-spf's reason text
  RejectPolicy policy = RejectPolicy::Fail;
};

class SpfCheck final : public Check {
 public:
  explicit SpfCheck(std::shared_ptr<const config::Settings> settings)
      : s_(std::move(settings)), outcomes_(s_->result_cache_entries) {}
  std::string_view name() const override { return "spf"; }
  Stage stage() const override { return Stage::Spf; }
  bool needs_dns() const override { return true; }

  asio::awaitable<Verdict> evaluate(const PolicyRequest& request, CheckContext& ctx) const override {
    Plan plan = plan_for(request, ctx);
    if (plan.asks.empty()) co_return verdict_from(request, plan, {}, ctx.trace);
    std::vector<spf::Outcome> outcomes =
        co_await outcomes_.check_hosts(ctx.resolver, std::move(plan.asks), plan.options, ctx.deadline);
    co_return verdict_from(request, plan, std::move(outcomes), ctx.trace);
  }

  // Every result in the cache (the warm path): the same verdict as evaluate(), with no coroutine.
  std::optional<Verdict> evaluate_now(const PolicyRequest& request, CheckContext& ctx) const override {
    if (ctx.trace) return std::nullopt;
    Plan plan = plan_for(request, ctx);
    if (plan.asks.empty()) return verdict_from(request, plan, {}, false);
    std::optional<std::vector<spf::Outcome>> outcomes = outcomes_.all_cached(plan.asks, plan.options);
    if (!outcomes) return std::nullopt;
    return verdict_from(request, plan, std::move(*outcomes), false);
  }

 private:
  // What evaluate() asks check_host() for: HELO, then MAIL FROM, each when checked.
  struct Plan {
    IpAddress client;
    HeaderFields fields;
    spf::Options options;
    std::vector<spf::Request> asks;
    std::vector<Identity> which;  // of each ask
  };

  Plan plan_for(const PolicyRequest& request, const CheckContext& ctx) const {
    const config::Settings& s = *s_;
    Plan plan{s.prospective ? *s.prospective : *request.client, {}, {}, {}, {}};
    // pypolicyd-spf: nothing to check without a sender and a HELO.
    if (request.sender.empty() && request.helo.empty()) return plan;
    plan.fields = header_fields(request, s);
    plan.options.limits.max_void_lookups = s.void_limit;
    plan.options.limits.time_budget = std::chrono::duration_cast<std::chrono::milliseconds>(s.lookup_time);
    plan.options.trace = ctx.trace;
    if (s.helo_reject != RejectPolicy::NoCheck && !request.helo.empty()) {
      plan.asks.push_back({plan.client, "postmaster@" + request.helo, request.helo, plan.fields.receiver,
                           Identity::Helo, request.helo});
      plan.which.push_back(Identity::Helo);
    }
    if (s.mail_from_reject != RejectPolicy::NoCheck && !request.sender.empty()) {
      plan.asks.push_back({plan.client, request.sender, plan.fields.helo, plan.fields.receiver, Identity::MailFrom, {}});
      plan.which.push_back(Identity::MailFrom);
    }
    return plan;
  }

  // The verdict from the outcomes of the plan's asks (pypolicyd-spf's order of decisions).
  Verdict verdict_from(const PolicyRequest& request, const Plan& plan, std::vector<spf::Outcome> outcomes,
                       bool trace) const {
    const config::Settings& s = *s_;
    Verdict v;
    v.check = "spf";
    if (request.sender.empty() && request.helo.empty()) {
      v.log = "no sender and no HELO";
      return v;
    }
    const HeaderFields& fields = plan.fields;
    const IpAddress& client = plan.client;
    const std::vector<Identity>& which = plan.which;

    IdentityOutcome helo, mfrom;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      IdentityOutcome& io = which[i] == Identity::Helo ? helo : mfrom;
      io.checked = true;
      io.outcome = std::move(outcomes[i]);
      io.policy = which[i] == Identity::Helo ? s.helo_reject : s.mail_from_reject;
      const std::string_view domain =
          which[i] == Identity::Helo ? std::string_view(request.helo) : request.sender_domain();
      const bool local_policy = listed(s.reject_not_pass_domains, domain);
      if (local_policy) io.policy = RejectPolicy::SpfNotPass;
      io.act = action_for(io.policy, io.outcome.result, s);
      // pypolicyd-spf: "Receiver policy for SPF <Result>" for a listed domain, but "no SPF record" for None
      // whatever the list says (None is never rejected).
      io.reason = local_policy && io.outcome.result != Result::None
                      ? "Receiver policy for SPF " + std::string(spf::to_capitalized(io.outcome.result))
                      : spf::pypolicyd_reason(io.outcome);
      dns_queries_note(v, io);
      v.results.emplace_back(which[i] == Identity::Helo ? "helo" : "mailfrom", std::string(spf::to_string(io.outcome.result)));
      if (trace) trace_identity(v, io, which[i], local_policy);
    }
    // HELO_reject = Null: a HELO fail only rejects the null sender.
    if (helo.checked && s.helo_reject == RejectPolicy::Null && !request.sender.empty() && helo.act != Act::Prepend)
      helo.act = Act::Dunno;

    const spf::HeaderInputs in{client, fields.helo, fields.sender, fields.receiver};

    // 1. HELO decides first when it rejects or defers (pypolicyd-spf checks it before MAIL FROM).
    if (helo.checked && (helo.act == Act::Reject || helo.act == Act::Defer) && !no_mail_downgrade(helo))
      return terminal(v, helo, Identity::Helo, request, fields);
    // 2. Null sender: the HELO result is all there is.
    if (request.sender.empty()) {
      if (!helo.checked) {
        v.log = "null sender and HELO not checked";
        return v;
      }
      if (!s.helo_pass_restriction.empty() && helo.outcome.result == Result::Pass)
        return restriction(v, s.helo_pass_restriction);
      return annotate(v, helo, Identity::Helo, in);
    }
    // 3. MAIL FROM.
    if (!mfrom.checked) {
      if (!helo.checked) return v;
      if (!s.helo_pass_restriction.empty() && helo.outcome.result == Result::Pass)
        return restriction(v, s.helo_pass_restriction);
      return annotate(v, helo, Identity::Helo, in);
    }
    const bool mfrom_pass = mfrom.outcome.result == Result::Pass;
    const bool helo_pass = helo.checked && helo.outcome.result == Result::Pass;
    if (mfrom_pass && !s.mail_from_pass_restriction.empty()) return restriction(v, s.mail_from_pass_restriction);
    if (helo_pass && !s.helo_pass_restriction.empty()) return restriction(v, s.helo_pass_restriction);
    if ((mfrom.act == Act::Reject || mfrom.act == Act::Defer) && !no_mail_downgrade(mfrom))
      return terminal(v, mfrom, Identity::MailFrom, request, fields);
    // Not rejected: the MAIL FROM header, even when MAIL FROM is none and HELO had a result
    // (pypolicyd-spf prepended the HELO header there: CVE-2019-20790).
    return annotate(v, mfrom, Identity::MailFrom, in);
  }

  static void dns_queries_note(Verdict& v, const IdentityOutcome& io) {
    if (!v.log.empty()) v.log += "; ";
    v.log += std::string(io.outcome.domain.empty() ? "?" : io.outcome.domain) + " " +
             std::string(spf::to_string(io.outcome.result));
    if (!io.outcome.mechanism.empty()) v.log += " (" + io.outcome.mechanism + ")";
    if (!io.outcome.problem.empty()) v.log += " (" + io.outcome.problem + ")";
  }

  static void trace_identity(Verdict& v, const IdentityOutcome& io, Identity identity, bool local_policy) {
    const spf::Outcome& o = io.outcome;
    v.trace.push_back(std::string(identity == Identity::Helo ? "HELO" : "MAIL FROM") + " " +
                      sanitize(o.domain, 100) + ": " + std::string(spf::to_string(o.result)) +
                      (o.mechanism.empty() ? "" : ", mechanism " + sanitize(o.mechanism, 100)) +
                      (o.problem.empty() ? "" : ", " + sanitize(o.problem, 200)) + "; policy " +
                      std::string(config::to_string(io.policy)) + (local_policy ? " (Reject_Not_Pass_Domains)" : ""));
    if (!o.record.empty()) v.trace.push_back("  record: \"" + sanitize(o.record, 300) + "\"");
    for (const auto& step : o.trace)
      v.trace.push_back("  " + std::string(2 * step.depth, ' ') + sanitize(step.domain, 100) + ": " +
                        sanitize(step.term, 150) + " -> " + sanitize(step.outcome, 150));
    v.trace.push_back("  DNS terms " + std::to_string(o.dns_terms) + " of 10, void lookups " +
                      std::to_string(o.void_lookups) + " of 2, " + std::to_string(o.dns_queries) + " queries");
  }

  // No_Mail: reject only domains that publish exactly "v=spf1 -all" (pypolicyd-spf compares the first
  // string of the record). It narrows rejects only: a deferral (TempError_Defer) stands, since a domain
  // whose record could not be read may well be one that publishes "v=spf1 -all" (pypolicyd-spf accepted
  // such mail, as no record was cached).
  bool no_mail_downgrade(const IdentityOutcome& io) const {
    if (!s_->no_mail || io.act != Act::Reject) return false;
    return io.outcome.record_strings.empty() || io.outcome.record_strings.front() != "v=spf1 -all";
  }

  Verdict restriction(Verdict v, const std::string& restriction_class) const {
    v.kind = VerdictKind::Accept;
    v.action = restriction_class;
    v.reason = "SPF pass restriction";
    return v;
  }

  Verdict annotate(Verdict v, const IdentityOutcome& io, Identity identity, const spf::HeaderInputs& in) const {
    const config::Settings& s = *s_;
    v.kind = VerdictKind::Annotate;
    if (s.header_type.spf || s.header_type.none()) {
      spf::HeaderField h = s.header_style == config::HeaderStyle::Rfc7208
                               ? spf::received_spf_rfc7208(io.outcome, identity, in)
                               : spf::received_spf_pypolicyd(io.outcome.result, identity, io.reason, in);
      v.headers.push_back(h.line());
    }
    // Only Header_Type AR uses it (decide()); it costs as much to build as the header.
    if (s.header_type.ar)
      v.ar_method = spf::resinfo_spf_pypolicyd(io.outcome.result, identity, io.reason, in,
                                               spf::AuthenticationResults(s.authserv_id).spf_budget());
    v.error_result = io.outcome.result == Result::PermError || io.outcome.result == Result::TempError;
    return v;
  }

  Verdict terminal(Verdict v, const IdentityOutcome& io, Identity identity, const PolicyRequest& request,
                   const HeaderFields& fields) const {
    const config::Settings& s = *s_;
    const bool error = io.outcome.result == Result::PermError || io.outcome.result == Result::TempError;
    const bool defer = io.act == Act::Defer;
    std::string code;
    if (defer) code = s.enhanced_status_codes ? "defer_if_permit 4.7.24" : "defer_if_permit";
    else if (!s.enhanced_status_codes) code = "550";
    else code = error ? "550 5.7.24" : "550 5.7.23";
    const std::string id = identity == Identity::Helo ? request.helo : request.sender;
    v.kind = defer ? VerdictKind::DeferIfPermit : VerdictKind::Reject;
    v.action = code + " " + reason_message(defer, io.reason, identity, id, fields);
    v.reason = "SPF " + std::string(spf::to_string(io.outcome.result)) + " for " +
               (identity == Identity::Helo ? "HELO " + sanitize(request.helo, 80)
                                           : "MAIL FROM " + sanitize(request.sender, 100));
    v.error_result = error;
    return v;
  }

  // Reason_Message with {rejectdefer}, {spf} and {url} (pypolicyd-spf §4.6 (e)).
  std::string reason_message(bool defer, const std::string& reason, Identity identity, const std::string& id,
                             const HeaderFields& fields) const {
    const config::Settings& s = *s_;
    std::string url;
    if (!s.why_url.empty())
      // pypolicyd-spf's scopes: "helo" and "mfrom" (not the identity's name "mailfrom").
      url = s.why_url + "?s=" + (identity == Identity::Helo ? "helo" : "mfrom") + ";id=" + id +
            ";ip=" + fields.client_ip + ";r=" + fields.receiver;
    std::string tmpl = s.reason_message;
    if (tmpl.empty())
      tmpl = url.empty() ? "Message {rejectdefer} due to: {spf}." : "Message {rejectdefer} due to: {spf}. Please see {url}";
    std::string out;
    for (std::size_t i = 0; i < tmpl.size();) {
      auto take = [&](std::string_view key, const std::string& value) {
        if (tmpl.compare(i, key.size(), key) != 0) return false;
        out += value;
        i += key.size();
        return true;
      };
      if (take("{rejectdefer}", defer ? "deferred" : "rejected") || take("{spf}", reason) || take("{url}", url))
        continue;
      out += tmpl[i++];
    }
    // An empty {url} at the end ("Please see {url}" without Why_URL) leaves no trailing space in the reply.
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return sanitize(out, 450);
  }

  std::shared_ptr<const config::Settings> s_;
  // Results reused while their DNS answers are valid (result-cache-entries). The one mutable part of the
  // check: it serves every connection from the io_context's one thread, and dies with the configuration.
  mutable spf::OutcomeCache outcomes_;
};

// Domain_Whitelist: an SPF pass of the client for one of the listed domains bypasses every check.
class DomainWhitelistCheck final : public Check {
 public:
  explicit DomainWhitelistCheck(std::shared_ptr<const config::Settings> settings)
      : s_(std::move(settings)), outcomes_(s_->result_cache_entries) {}
  std::string_view name() const override { return "Domain_Whitelist"; }
  Stage stage() const override { return Stage::Bypass; }
  bool needs_dns() const override { return true; }

  asio::awaitable<Verdict> evaluate(const PolicyRequest& request, CheckContext& ctx) const override {
    const config::Settings& s = *s_;
    const IpAddress client = s.prospective ? *s.prospective : *request.client;
    spf::Options options;
    options.limits.max_void_lookups = s.void_limit;
    options.limits.time_budget = std::chrono::duration_cast<std::chrono::milliseconds>(s.whitelist_lookup_time);
    std::vector<spf::Request> asks;
    for (const auto& domain : s.domain_whitelist)
      asks.push_back({client, "postmaster@" + domain, domain, {}, Identity::MailFrom, domain});
    const auto outcomes = co_await outcomes_.check_hosts(ctx.resolver, std::move(asks), options, ctx.deadline);
    for (std::size_t i = 0; i < outcomes.size(); ++i)
      if (outcomes[i].result == Result::Pass) {
        Verdict v;
        v.check = "Domain_Whitelist";
        v.kind = VerdictKind::Bypass;
        v.final = true;
        v.headers = bypass_headers("SPF skipped for whitelisted relay domain", header_fields(request, s), s);
        v.log = "SPF pass for " + s.domain_whitelist[i];
        co_return v;
      }
    Verdict v;
    v.check = "Domain_Whitelist";
    co_return v;
  }

 private:
  std::shared_ptr<const config::Settings> s_;
  mutable spf::OutcomeCache outcomes_;  // as SpfCheck's
};

}  // namespace

std::vector<std::unique_ptr<Check>> make_spf_checks(std::shared_ptr<const config::Settings> settings) {
  std::vector<std::unique_ptr<Check>> out;
  if (settings->helo_reject != RejectPolicy::NoCheck || settings->mail_from_reject != RejectPolicy::NoCheck)
    out.push_back(std::make_unique<SpfCheck>(settings));
  return out;
}

std::vector<std::unique_ptr<Check>> make_domain_whitelist_checks(std::shared_ptr<const config::Settings> settings) {
  std::vector<std::unique_ptr<Check>> out;
  if (!settings->domain_whitelist.empty()) out.push_back(std::make_unique<DomainWhitelistCheck>(settings));
  return out;
}

}  // namespace spfgate::policy
