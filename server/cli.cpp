#include "server/cli.hpp"

#include "config/options.hpp"
#include "policy/lint/lint.hpp"
#include "server/resolver_factory.hpp"

#include <boost/asio/co_spawn.hpp>
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

}  // namespace spfgate::server
