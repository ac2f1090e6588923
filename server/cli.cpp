#include "server/cli.hpp"

#include "config/options.hpp"
#include "common/text.hpp"
#include "policy/dns/tracing_resolver.hpp"
#include "policy/engine.hpp"
#include "policy/lint/lint.hpp"
#include "server/resolver_factory.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <optional>

namespace spfgate::server {

namespace asio = boost::asio;

namespace {

// Splits a command's arguments into its own flags (with or without "=value") and the daemon options,
// which are passed on to config::load(): "--name=value", "--config FILE" / "-c FILE", and flags.
struct Split {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> own;  // flag, value ("" for switches)
  std::vector<std::string> config_args;
};

std::optional<Split> split_args(const std::vector<std::string>& args, const std::vector<std::string>& with_value,
                                const std::vector<std::string>& switches, std::string& error) {
  Split s;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 && a != "-c") {
      s.positional.push_back(a);
      continue;
    }
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    auto in = [&](const std::vector<std::string>& list) {
      return std::find(list.begin(), list.end(), name) != list.end();
    };
    if (in(with_value)) {
      if (eq != std::string::npos) {
        s.own.emplace_back(name, a.substr(eq + 1));
      } else if (i + 1 < args.size()) {
        s.own.emplace_back(name, args[++i]);
      } else {
        error = name + " needs a value";
        return std::nullopt;
      }
    } else if (in(switches)) {
      s.own.emplace_back(name, "");
    } else if (name == "--config" || name == "-c") {
      s.config_args.push_back("--config");
      if (eq != std::string::npos) s.config_args.push_back(a.substr(eq + 1));
      else if (i + 1 < args.size()) s.config_args.push_back(args[++i]);
      else {
        error = "--config needs a file";
        return std::nullopt;
      }
    } else {
      s.config_args.push_back(a);  // --name=value (or a switch) for the daemon's options
    }
  }
  return s;
}

}  // namespace

int run_lint(const std::vector<std::string>& args) {
  std::string error;
  auto split = split_args(args, {"--dkim-selector"}, {"--json", "--help"}, error);
  const auto usage = "usage: spfgate lint DOMAIN [--dkim-selector S]... [--json] [--config FILE] [--name=value ...]\n";
  if (!split) {
    fmt::print(stderr, "spfgate lint: {}\n{}", error, usage);
    return 2;
  }
  bool json = false;
  std::vector<std::string> selectors;
  for (const auto& [flag, value] : split->own) {
    if (flag == "--help") {
      fmt::print(stdout, "{}", usage);
      return 0;
    }
    if (flag == "--json") json = true;
    else if (flag == "--dkim-selector") selectors.push_back(value);
  }
  if (split->positional.size() != 1) {
    fmt::print(stderr, "spfgate lint: exactly one DOMAIN expected\n{}", usage);
    return 2;
  }
  try {
    const config::Settings settings = config::load(split->config_args).settings;
    spdlog::set_level(spdlog::level::warn);
    asio::io_context io(1);
    auto resolver = make_resolver(io, settings);
    auto future = asio::co_spawn(io,
                                 lint::lint_domain(*resolver, split->positional.front(), selectors,
                                                   dns::Clock::now() + std::chrono::seconds(60)),
                                 asio::use_future);
    io.run();
    const lint::Report report = future.get();
    const std::string text = json ? lint::format_json(report) : lint::format_text(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return report.has_errors() ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "spfgate lint: {}\n", e.what());
    return 2;
  }
}

namespace {

int exit_status(policy::DecisionKind kind) {
  switch (kind) {
    case policy::DecisionKind::Reject: return 1;
    case policy::DecisionKind::Defer:
    case policy::DecisionKind::DeferIfPermit: return 2;
    default: return 0;
  }
}

std::string answer_text(const policy::Engine::Explanation& e, const dns::TracingResolver& traced, double ms) {
  std::string out = "action=" + sanitize(e.answer.action) + "\n";
  out += "decided by: " + (e.decision.deciding_check.empty() ? std::string("(nothing: no check objected)")
                                                           : e.decision.deciding_check) + "\n";
  if (!e.answer.log_line.empty()) out += "log line: " + e.answer.log_line + "\n";
  out += "\nchecks (in precedence order):\n";
  for (const auto& v : e.verdicts) {
    out += "  " + v.check + ": " + std::string(policy::to_string(v.kind));
    if (!v.log.empty()) out += " - " + sanitize(v.log, 400);
    out += "\n";
    for (const auto& t : v.trace) out += "      " + t + "\n";
  }
  out += "\nDNS queries (" + std::to_string(traced.log().size()) + "):\n";
  for (const auto& q : traced.log()) {
    std::string line = "  " + q.name + " " + std::string(dns::to_string(q.type)) + ": " +
                       std::string(dns::to_string(q.answer.status)) + ", " +
                       std::string(dns::to_string(q.answer.dnssec));
    const std::size_t n = q.answer.addresses.size() + q.answer.txt.size() + q.answer.mx.size() + q.answer.names.size();
    if (n) line += ", " + std::to_string(n) + " record" + (n == 1 ? "" : "s");
    if (!q.answer.why.empty()) line += " (" + sanitize(q.answer.why, 150) + ")";
    line += ", " + std::to_string(q.elapsed.count() / 1000.0).substr(0, 5) + " ms";
    out += line + "\n";
  }
  out += "\ntotal " + std::to_string(ms).substr(0, 6) + " ms\n";
  return out;
}

std::string answer_json(const policy::Engine::Explanation& e, const dns::TracingResolver& traced, double ms) {
  boost::json::object o;
  o["action"] = sanitize(e.answer.action);
  o["decision"] = std::string(policy::to_string(e.decision.kind));
  o["decided_by"] = e.decision.deciding_check;
  o["log_line"] = e.answer.log_line;
  boost::json::array checks;
  for (const auto& v : e.verdicts) {
    boost::json::array trace;
    for (const auto& t : v.trace) trace.push_back(boost::json::value(t));
    checks.push_back({{"check", v.check}, {"verdict", std::string(policy::to_string(v.kind))},
                      {"action", sanitize(v.action)}, {"detail", sanitize(v.log, 400)}, {"trace", std::move(trace)}});
  }
  o["checks"] = std::move(checks);
  boost::json::array queries;
  for (const auto& q : traced.log())
    queries.push_back({{"name", q.name}, {"type", std::string(dns::to_string(q.type))},
                       {"status", std::string(dns::to_string(q.answer.status))},
                       {"dnssec", std::string(dns::to_string(q.answer.dnssec))}, {"why", sanitize(q.answer.why, 150)},
                       {"ms", static_cast<double>(q.elapsed.count()) / 1000.0}});
  o["dns_queries"] = std::move(queries);
  o["elapsed_ms"] = ms;
  return boost::json::serialize(o) + "\n";
}

}  // namespace

int run_check(const std::vector<std::string>& args) {
  std::string error;
  auto split = split_args(args, {"--ip", "--helo", "--sender", "--rcpt", "--protocol-state"}, {"--json", "--help"}, error);
  const auto usage =
      "usage: spfgate check --ip IP --helo NAME --sender ADDR [--rcpt ADDR] [--json] [--config FILE] "
      "[--name=value ...]\n"
      "  runs the daemon's checks with its configuration and prints the answer Postfix would get and why.\n"
      "  exit status: 0 the mail goes on, 1 reject, 2 defer, 3 could not run\n";
  if (!split || !split->positional.empty()) {
    fmt::print(stderr, "spfgate check: {}\n{}", split ? "unexpected argument " + split->positional.front() : error, usage);
    return 3;
  }
  bool json = false;
  std::vector<policy::Attribute> attrs{{"request", "smtpd_access_policy"}, {"protocol_state", "RCPT"}};
  bool have_ip = false;
  for (const auto& [flag, value] : split->own) {
    if (flag == "--help") {
      fmt::print(stdout, "{}", usage);
      return 0;
    }
    if (flag == "--json") json = true;
    else if (flag == "--ip") {
      attrs.emplace_back("client_address", value);
      have_ip = true;
    } else if (flag == "--helo") attrs.emplace_back("helo_name", value);
    else if (flag == "--sender") attrs.emplace_back("sender", value == "<>" ? "" : value);
    else if (flag == "--rcpt") attrs.emplace_back("recipient", value);
    else if (flag == "--protocol-state") attrs[1].second = value;
  }
  if (!have_ip) {
    fmt::print(stderr, "spfgate check: --ip is required\n{}", usage);
    return 3;
  }
  try {
    auto settings = std::make_shared<const config::Settings>(config::load(split->config_args).settings);
    spdlog::set_level(spdlog::level::warn);
    auto engine = policy::Engine::build(settings);
    asio::io_context io(1);
    auto resolver = make_resolver(io, *settings);
    dns::TracingResolver traced(*resolver);
    const auto request = policy::PolicyRequest::from(attrs);
    if (!request.client) {
      fmt::print(stderr, "spfgate check: --ip: not an IP address\n");
      return 3;
    }
    const auto start = std::chrono::steady_clock::now();
    auto future = asio::co_spawn(io, engine->explain(request, traced, dns::Clock::now() + settings->request_timeout),
                                 asio::use_future);
    io.run();
    const auto e = future.get();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const std::string text = json ? answer_json(e, traced, ms) : answer_text(e, traced, ms);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return exit_status(e.answer.kind);
  } catch (const std::exception& ex) {
    fmt::print(stderr, "spfgate check: {}\n", ex.what());
    return 3;
  }
}

}  // namespace spfgate::server
