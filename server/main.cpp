// server/main.cpp: the spfgate program — parse the configuration, start the server, map failures to exit
// codes. Exit status: 0 normal stop, 1 configuration error, 2 start-up failure (cannot bind, bad user...).
#include "config/error.hpp"
#include "config/options.hpp"
#include "policy/engine.hpp"
#include "server/cli.hpp"
#include "server/logging.hpp"
#include "server/resolver_factory.hpp"
#include "server/server.hpp"

#include <fmt/core.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

// Before the configuration chooses a log target, start-up errors go to stderr — except in spawn mode,
// where stderr is the Postfix socket; there they go to syslog.
void early_logging(const std::vector<std::string>& args) {
  spfgate::config::Settings s = spfgate::config::defaults();
  for (const auto& a : args)
    if (a == "--spawn") s.spawn = true;
  spfgate::server::setup_logging(s);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  early_logging(args);
  if (!args.empty() && args.front() == "lint")
    return spfgate::server::run_lint(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!args.empty() && args.front() == "check")
    return spfgate::server::run_check(std::vector<std::string>(args.begin() + 1, args.end()));
  spfgate::config::Loaded loaded;
  try {
    loaded = spfgate::config::load(args);
  } catch (const std::exception& e) {
    spdlog::critical("configuration error: {}", e.what());
    return 1;
  }
  if (loaded.help) {
    fmt::print(stdout, "{}", spfgate::config::help_text());
    return 0;
  }
  if (loaded.version) {
    fmt::print(stdout, "spfgate {}\n", SPFGATE_VERSION);
    return 0;
  }
  try {
    spfgate::server::setup_logging(loaded.settings);
  } catch (const std::exception& e) {
    spdlog::critical("cannot set up logging: {}", e.what());
    return 1;
  }
  if (loaded.check_config) {
    for (const auto& n : loaded.notices) spdlog::warn("{}", n);
    try {
      // Load what start-up loads (helo_access tables, the Per_User file), not just the options.
      spfgate::policy::Engine::build(std::make_shared<const spfgate::config::Settings>(loaded.settings));
    } catch (const std::exception& e) {
      spdlog::critical("configuration error: {}", e.what());
      return 1;
    }
    spdlog::info("configuration is valid");
    return 0;
  }
  try {
    spfgate::server::Server server(
        args, std::move(loaded),
        spfgate::server::ResolverFactory{spfgate::server::make_shared_resolver, spfgate::server::make_thread_resolver});
    return server.run();
  } catch (const spfgate::config::Error& e) {
    spdlog::critical("configuration error: {}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 2;
  }
}
