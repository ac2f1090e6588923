#include "policy/checks/helo_checks.hpp"

#include "common/async.hpp"
#include "common/text.hpp"
#include "config/access_table.hpp"

#include <algorithm>

namespace spfgate::policy {

namespace asio = boost::asio;
using config::CheckMode;

std::optional<IpAddress> address_literal(std::string_view helo) {
  if (helo.size() < 3 || helo.front() != '[' || helo.back() != ']') return std::nullopt;
  std::string_view inner = helo.substr(1, helo.size() - 2);
  if (inner.size() > 5 && iequals(inner.substr(0, 5), "ipv6:")) {
    auto ip = parse_ip(inner.substr(5));
    if (ip && ip->is_v6()) return ip;
    return std::nullopt;
  }
  auto ip = parse_ip(inner);
  if (ip && ip->is_v4()) return ip;
  return std::nullopt;
}

std::string smtp_reply(unsigned code, std::string_view dsn, std::string_view text) {
  std::string d(dsn);
  if (!d.empty()) d[0] = static_cast<char>('0' + code / 100);
  return std::to_string(code) + " " + d + " " + std::string(text);
}

namespace {

std::string_view strip_dot(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  return name;
}

// The verdict of a failed HELO check in its configured mode; `code`/`dsn` are the reject reply's.
Verdict helo_verdict(std::string_view check, CheckMode mode, const std::string& helo, unsigned code,
                     std::string_view dsn, std::string_view problem, std::string_view reason) {
  Verdict v;
  v.check = std::string(check);
  const std::string text = "<" + sanitize(helo, 100) + ">: Helo command rejected: " + std::string(problem);
  v.reason = std::string(reason);
  v.log = std::string(reason);
  switch (mode) {
    case CheckMode::Off: v.kind = VerdictKind::Skip; break;
    case CheckMode::Warn: v.kind = VerdictKind::Warn; break;
    case CheckMode::Reject:
      v.action = smtp_reply(code, dsn, text);
      v.kind = code >= 500 ? VerdictKind::Reject : VerdictKind::Defer;
      break;
    case CheckMode::Defer:
      v.action = smtp_reply(450, dsn, text);
      v.kind = VerdictKind::Defer;
      break;
  }
  return v;
}

// One check_helo_access restriction: one table. Several tables are several checks, run in the admin's
// order; as in Postfix, a result that does not end the restriction list (DUNNO, WARN, INFO, PREPEND, and
// the actions delegated to cleanup or kept for later: HOLD, FILTER, REDIRECT, BCC, DEFER_IF_REJECT,
// DEFER_IF_PERMIT) lets the next table and the other checks speak.
class HeloAccessCheck final : public LocalCheck {
 public:
  explicit HeloAccessCheck(config::AccessTable table) : table_(std::move(table)) {}
  std::string_view name() const override { return "helo_access"; }
  Stage stage() const override { return Stage::HeloAccess; }

  Verdict verdict_for(const PolicyRequest& request) const override {
    Verdict v;
    v.check = "helo_access";
    if (request.helo_as_sent.empty()) return v;
    // The HELO as the client sent it: indexed tables fold it, pattern tables see it as Postfix hands it.
    const auto match = table_.lookup_helo(request.helo_as_sent);
    if (!match) return v;
    const config::AccessAction action = config::AccessAction::parse(match->action);
    const std::string where = match->file + ":" + std::to_string(match->line);
    v.log = "\"" + sanitize(match->key, 100) + "\" " + sanitize(match->action, 200) + " (" + where + ")";
    v.reason = "HELO " + sanitize(request.helo_as_sent, 100) + " listed in " + match->table;
    const std::string context = "<" + sanitize(request.helo_as_sent, 100) + ">: Helo command rejected: ";
    using K = config::ActionKind;
    v.final = true;
    switch (action.kind) {
      case K::Dunno:  // found, and explicitly no opinion: later tables and checks decide
        v.final = false;
        break;
      case K::Prepend:
        v.kind = VerdictKind::Annotate;
        v.headers.push_back(action.text);
        v.final = false;
        break;
      case K::Warn:
      case K::Info:
        v.kind = VerdictKind::Warn;
        v.final = false;
        break;
      case K::Reject:
        v.kind = VerdictKind::Reject;
        v.action = "REJECT " + action.dsn + " " + context + std::string(action.reply_text());
        break;
      case K::Defer:
        v.kind = VerdictKind::Defer;
        v.action = "DEFER " + action.dsn + " " + context + std::string(action.reply_text());
        break;
      case K::DeferIfPermit:  // Postfix: remembered, the restrictions go on; a later reject wins over it
        v.kind = VerdictKind::DeferIfPermit;
        v.action = "DEFER_IF_PERMIT " + action.dsn + " " + context + std::string(action.reply_text());
        v.final = false;
        break;
      case K::DeferIfReject:  // remembered: turns a later reject into this deferral
        v.kind = VerdictKind::DeferIfReject;
        v.action = "DEFER " + action.dsn + " " + context + std::string(action.reply_text());
        v.final = false;
        break;
      case K::SmtpReply:
        v.kind = action.code >= 500 ? VerdictKind::Reject : VerdictKind::Defer;
        v.action = std::to_string(action.code) + " " +
                   (action.dsn.empty() ? std::string(action.code >= 500 ? "5.7.1" : "4.7.1") : action.dsn) + " " +
                   context + std::string(action.reply_text());
        break;
      case K::Hold:
      case K::Filter:
      case K::Redirect:
      case K::Bcc:
        // Delegated to cleanup and the restrictions go on (smtpd_check.c returns DUNNO): answered as
        // written unless another check rejects or defers.
        v.kind = VerdictKind::Accept;
        v.action = match->action;
        v.final = false;
        break;
      default:  // OK, a restriction class, DISCARD, HANGUP: end the restriction list
        v.kind = VerdictKind::Accept;
        v.action = match->action;
        break;
    }
    return v;
  }

 private:
  config::AccessTable table_;
};

class HeloSanityCheck final : public LocalCheck {
 public:
  explicit HeloSanityCheck(std::shared_ptr<const config::Settings> s) : s_(std::move(s)) {}
  std::string_view name() const override { return "helo"; }
  Stage stage() const override { return Stage::HeloSanity; }

  Verdict verdict_for(const PolicyRequest& request) const override {
    const config::Settings& s = *s_;
    Verdict none;
    none.check = "helo";
    const std::string& helo = request.helo;
    if (helo.empty()) return none;
    const std::string_view name = strip_dot(helo);
    const std::string& shown = request.helo_as_sent;  // replies show it as sent, as Postfix does
    const auto literal = address_literal(name);
    const bool bracketed = !name.empty() && name.front() == '[';
    const bool bare_ip = parse_ip(name).has_value();

    if (s.helo_syntax != CheckMode::Off) {
      if (bracketed && !literal)
        return helo_verdict("helo", s.helo_syntax, shown, 501, "5.5.2", "invalid ip address",
                               "HELO is an invalid address literal");
      if (!bracketed && !bare_ip && !valid_hostname(name))
        return helo_verdict("helo", s.helo_syntax, shown, 501, "5.5.2", "Invalid name", "HELO is not a valid host name");
    }
    if (s.helo_fqdn != CheckMode::Off && !literal &&
        (!valid_hostname(name) || name.find('.') == std::string_view::npos))
      return helo_verdict("helo", s.helo_fqdn, shown, 504, "5.5.2", "need fully-qualified hostname",
                             "HELO is not a fully-qualified host name");
    if (s.helo_local != CheckMode::Off && request.client) {
      const IpAddress client = unmap(*request.client);
      const auto helo_ip = literal ? literal : parse_ip(name);
      bool claims = false;
      for (const auto& local : s.helo_local_names) {
        const auto local_ip = parse_ip(local);
        if (local_ip) {
          // A client that really is this server (e.g. local submission) may say so.
          if (helo_ip && unmap(*helo_ip) == unmap(*local_ip) && client != unmap(*local_ip)) claims = true;
        } else if (iequals(strip_dot(local), name)) {
          claims = true;
        }
      }
      if (claims)
        return helo_verdict("helo", s.helo_local, shown, 550, "5.7.1", "You are not me",
                               "HELO claims to be this server");
    }
    if (s.helo_literal != CheckMode::Off && literal && request.client && unmap(*literal) != unmap(*request.client))
      return helo_verdict("helo", s.helo_literal, shown, 550, "5.7.1",
                             "address literal does not match your address [" + unmap(*request.client).to_string() + "]",
                             "HELO address literal is not the client's address");
    return none;
  }

 private:
  std::shared_ptr<const config::Settings> s_;
};

asio::awaitable<dns::DnsAnswer> lookup(dns::Resolver& r, std::string name, dns::RrType t, dns::Deadline d) {
  co_return co_await r.query(std::move(name), t, d);
}

class HeloDnsCheck final : public Check {
 public:
  explicit HeloDnsCheck(std::shared_ptr<const config::Settings> s) : s_(std::move(s)) {}
  std::string_view name() const override { return "helo-dns"; }
  Stage stage() const override { return Stage::HeloSanity; }
  bool needs_dns() const override { return true; }

  asio::awaitable<Verdict> evaluate(const PolicyRequest& request, CheckContext& ctx) const override {
    Verdict none;
    none.check = "helo-dns";
    const std::string_view name = strip_dot(request.helo);
    // Literals and bare addresses are only syntax-checked (Postfix); so are names that are not valid.
    if (name.empty() || name.front() == '[' || parse_ip(name) || !valid_hostname(name)) co_return none;
    std::vector<asio::awaitable<dns::DnsAnswer>> q;
    for (auto t : {dns::RrType::A, dns::RrType::AAAA, dns::RrType::MX})
      q.push_back(lookup(ctx.resolver, std::string(name), t, ctx.deadline));
    const auto answers = co_await gather(std::move(q));
    bool temporary = false;
    for (const auto& a : answers) {
      if (a.ok()) co_return none;
      if (a.is_temporary()) temporary = true;
    }
    if (temporary) {
      if (s_->helo_dns == CheckMode::Warn) {
        Verdict v = none;
        v.kind = VerdictKind::Warn;
        v.log = "HELO name lookup failed temporarily";
        co_return v;
      }
      Verdict v = none;
      v.kind = VerdictKind::DeferIfPermit;
      v.action = "DEFER_IF_PERMIT 4.7.1 <" + sanitize(request.helo_as_sent, 100) + ">: Helo command rejected: Host not found";
      v.reason = "HELO name lookup failed temporarily";
      v.log = v.reason;
      v.cacheable = false;
      co_return v;
    }
    co_return helo_verdict("helo-dns", s_->helo_dns, request.helo_as_sent, s_->helo_reject_code, "4.7.1", "Host not found",
                           "HELO name has no A, AAAA or MX record");
  }

 private:
  std::shared_ptr<const config::Settings> s_;
};

}  // namespace

std::vector<std::unique_ptr<Check>> make_helo_checks(std::shared_ptr<const config::Settings> settings,
                                                     ConfigFiles& files) {
  std::vector<std::unique_ptr<Check>> out;
  if (!settings->helo_access.empty()) {
    config::AccessTableOptions options;
    options.parent_domain_matches_subdomains = settings->helo_access_parent_matches_subdomains;
    const auto tables = files.access_tables("helo-access", settings->helo_access, options);
    for (const auto& table : tables.tables()) out.push_back(std::make_unique<HeloAccessCheck>(table));
  }
  const auto& s = *settings;
  if (s.helo_syntax != CheckMode::Off || s.helo_fqdn != CheckMode::Off || s.helo_literal != CheckMode::Off ||
      s.helo_local != CheckMode::Off)
    out.push_back(std::make_unique<HeloSanityCheck>(settings));
  if (s.helo_dns != CheckMode::Off) out.push_back(std::make_unique<HeloDnsCheck>(settings));
  return out;
}

}  // namespace spfgate::policy
