// tests/unit/spf_test_util.hpp: running check_host() to completion in a test.
#pragma once

#include "policy/dns/memory_resolver.hpp"
#include "policy/spf/evaluator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace spfgate::spf::test {

// Builds a string from text and numbers by appending, which (unlike "lit" + std::to_string(i) + "lit")
// does not trip GCC 12's -Wrestrict false positive at -O3 (GCC bug 105329).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  const auto add = [&out](const auto& p) {
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(p)>>) out += std::to_string(p);
    else out += p;
  };
  (add(parts), ...);
  return out;
}

inline Request request(std::string_view client, std::string sender, std::string helo = "mail.example.net",
                       std::string receiver = "example.net") {
  auto ip = parse_ip(client);
  if (!ip) throw std::invalid_argument("bad test address");
  Request r;
  r.client = *ip;
  r.sender = std::move(sender);
  r.helo = std::move(helo);
  r.receiver = std::move(receiver);
  return r;
}

inline Request helo_request(std::string_view client, std::string helo, std::string receiver = "example.net") {
  Request r = request(client, "postmaster@" + helo, helo, std::move(receiver));
  r.identity = Identity::Helo;
  return r;
}

inline Outcome run(dns::Resolver& resolver, Request req, Options options = {},
                   dns::Deadline deadline = dns::Clock::now() + std::chrono::seconds(30)) {
  boost::asio::io_context io;
  auto f = boost::asio::co_spawn(io, check_host(resolver, std::move(req), std::move(options), deadline),
                                 boost::asio::use_future);
  io.run();
  return f.get();
}

}  // namespace spfgate::spf::test
