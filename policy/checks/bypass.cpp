#include "policy/checks/bypass.hpp"

#include "common/text.hpp"
#include "policy/identity.hpp"

#include <algorithm>

namespace spfgate::policy {

namespace asio = boost::asio;

bool in_domain(std::string_view name, std::string_view domain) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || name.size() < domain.size()) return false;
  if (!iequals(name.substr(name.size() - domain.size()), domain)) return false;
  return name.size() == domain.size() || name[name.size() - domain.size() - 1] == '.';
}

namespace {

// The client address the bypass lists look at: Prospective replaces it (pypolicyd-spf §3.2).
std::optional<IpAddress> bypass_client(const PolicyRequest& request, const config::Settings& settings) {
  if (settings.prospective) return settings.prospective;
  return request.client;
}

Verdict bypass(std::string_view check, std::string_view comment, const PolicyRequest& request,
               const config::Settings& settings, std::string log) {
  Verdict v;
  v.check = std::string(check);
  v.kind = VerdictKind::Bypass;
  v.final = true;
  v.headers = bypass_headers(comment, header_fields(request, settings), settings);
  v.reason = std::string(comment);
  v.log = std::move(log);
  return v;
}

Verdict skip(std::string_view check) {
  Verdict v;
  v.check = std::string(check);
  return v;
}

class CidrBypassCheck final : public LocalCheck {
 public:
  CidrBypassCheck(std::string name, std::string comment, std::vector<Cidr> networks,
                  std::shared_ptr<const config::Settings> settings)
      : name_(std::move(name)), comment_(std::move(comment)), networks_(std::move(networks)),
        settings_(std::move(settings)) {}
  std::string_view name() const override { return name_; }
  Stage stage() const override { return Stage::Bypass; }

  Verdict verdict_for(const PolicyRequest& request) const override {
    const auto client = bypass_client(request, *settings_);
    if (client)
      for (const Cidr& net : networks_)
        if (net.contains(*client))
          return bypass(name_, comment_, request, *settings_, "client in " + net.to_string());
    return skip(name_);
  }

 private:
  std::string name_, comment_;
  std::vector<Cidr> networks_;
  std::shared_ptr<const config::Settings> settings_;
};

class HeloWhitelistCheck final : public Check {
 public:
  explicit HeloWhitelistCheck(std::shared_ptr<const config::Settings> settings) : settings_(std::move(settings)) {}
  std::string_view name() const override { return "HELO_Whitelist"; }
  Stage stage() const override { return Stage::Bypass; }
  bool needs_dns() const override { return true; }

  asio::awaitable<Verdict> evaluate(const PolicyRequest& request, CheckContext& ctx) const override {
    const auto client = bypass_client(request, *settings_);
    const auto& names = settings_->helo_whitelist;
    if (!client || request.helo.empty() || std::find(names.begin(), names.end(), request.helo) == names.end())
      co_return skip(name());
    const IpAddress ip = unmap(*client);
    const auto deadline = std::min(ctx.deadline, dns::Clock::now() + settings_->whitelist_lookup_time);
    const auto answer =
        co_await ctx.resolver.query(request.helo, ip.is_v4() ? dns::RrType::A : dns::RrType::AAAA, deadline);
    for (const auto& a : answer.addresses)
      if (unmap(a) == ip)
        co_return bypass(name(), "SPF skipped for whitelisted HELO domain", request, *settings_,
                         "HELO " + loggable(request.helo) + " resolves to the client");
    Verdict v = skip(name());
    v.log = "HELO " + loggable(request.helo) + " listed but does not resolve to the client (" +
            std::string(dns::to_string(answer.status)) + ")";
    co_return v;
  }

 private:
  std::shared_ptr<const config::Settings> settings_;
};

class PtrWhitelistCheck final : public Check {
 public:
  explicit PtrWhitelistCheck(std::shared_ptr<const config::Settings> settings) : settings_(std::move(settings)) {}
  std::string_view name() const override { return "Domain_Whitelist_PTR"; }
  Stage stage() const override { return Stage::Bypass; }
  bool needs_dns() const override { return true; }

  asio::awaitable<Verdict> evaluate(const PolicyRequest& request, CheckContext& ctx) const override {
    if (!request.client || settings_->prospective) co_return skip(name());
    const IprevEvidence iprev = co_await ctx.evidence.iprev();
    for (const auto& host : iprev.confirmed_names)
      for (const auto& domain : settings_->domain_whitelist_ptr)
        if (in_domain(host, domain))
          co_return bypass(name(), "SPF skipped for PTR whitelisted relay domain", request, *settings_,
                           "client host " + host + " (forward-confirmed) is in " + domain);
    Verdict v = skip(name());
    v.log = "iprev " + std::string(to_string(iprev.result)) + ", no confirmed name in the list";
    co_return v;
  }

 private:
  std::shared_ptr<const config::Settings> settings_;
};

}  // namespace

std::vector<std::unique_ptr<Check>> make_bypass_checks(std::shared_ptr<const config::Settings> settings) {
  std::vector<std::unique_ptr<Check>> out;
  if (!settings->skip_addresses.empty())
    out.push_back(std::make_unique<CidrBypassCheck>("skip_addresses", "SPF check N/A for local connections",
                                                    settings->skip_addresses, settings));
  if (!settings->whitelist.empty())
    out.push_back(std::make_unique<CidrBypassCheck>("Whitelist", "SPF skipped for whitelisted relay",
                                                    settings->whitelist, settings));
  if (!settings->helo_whitelist.empty()) out.push_back(std::make_unique<HeloWhitelistCheck>(settings));
  if (!settings->domain_whitelist_ptr.empty()) out.push_back(std::make_unique<PtrWhitelistCheck>(settings));
  return out;
}

}  // namespace spfgate::policy
