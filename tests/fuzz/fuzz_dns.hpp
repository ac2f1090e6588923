// tests/fuzz/fuzz_dns.hpp: zone data written by the fuzzer, and running a coroutine to its end.
//
//   dns::MemoryResolver zone;
//   fuzz::load_zone(zone, text);                 // one record per line, see below
//   auto out = fuzz::run(io_context, spf::check_host(zone, request, options, deadline));
//
// Zone lines ("name TYPE data"; lines that do not parse are skipped, as the fuzzer writes most of them):
//   example.org TXT v=spf1 a -all|second string     ('|' separates character-strings)
//   example.org A 192.0.2.1                         (AAAA the same; the family decides)
//   example.org MX 10 mail.example.org
//   1.2.0.192.in-addr.arpa PTR mail.example.org     (also CNAME, NS)
//   192.0.2.1 REV mail.example.org                  (the PTR record of an address)
//   example.org FAIL servfail|timeout|bogus|error   (every type of that name)
//   example.org FAILTYPE TXT servfail               (one type)
//   example.org EMPTY                               (exists, no records: NODATA)
//   example.org BOGUS                               (answers about it are DNSSEC-bogus)
//
// ShufflingResolver answers from a MemoryResolver after yielding to the io_context a pseudo-random number
// of times, so that concurrent lookups complete in a different order than they were asked, without any
// clock: results must not depend on it.
#pragma once

#include "fuzz_common.hpp"

#include "policy/dns/memory_resolver.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <optional>

namespace fuzz {

namespace dns = spfgate::dns;

inline std::optional<dns::RrType> rr_type_of(std::string_view t) {
  if (t == "A") return dns::RrType::A;
  if (t == "AAAA") return dns::RrType::AAAA;
  if (t == "TXT") return dns::RrType::TXT;
  if (t == "MX") return dns::RrType::MX;
  if (t == "PTR") return dns::RrType::PTR;
  if (t == "CNAME") return dns::RrType::CNAME;
  if (t == "NS") return dns::RrType::NS;
  return std::nullopt;
}

inline std::optional<dns::DnsStatus> status_of(std::string_view s) {
  if (s == "servfail") return dns::DnsStatus::ServFail;
  if (s == "timeout") return dns::DnsStatus::Timeout;
  if (s == "bogus") return dns::DnsStatus::Bogus;
  if (s == "error") return dns::DnsStatus::Error;
  return std::nullopt;
}

inline void load_zone(dns::MemoryResolver& zone, std::string_view text) {
  for (std::string_view line : lines_of(text)) {
    const std::string_view name = word(line);
    const std::string_view type = word(line);
    if (name.empty()) continue;
    if (type == "TXT") {
      std::vector<std::string> strings{""};
      for (char c : line) {
        if (c == '|') strings.emplace_back();
        else strings.back() += c;
      }
      zone.add_txt(name, std::move(strings));
    } else if (type == "A" || type == "AAAA") {
      if (spfgate::parse_ip(line)) zone.add_a(name, line);
    } else if (type == "MX") {
      const std::string_view pref = word(line);
      unsigned p = 0;
      for (char c : pref.substr(0, 5)) p = c >= '0' && c <= '9' ? p * 10 + static_cast<unsigned>(c - '0') : p;
      zone.add_mx(name, static_cast<std::uint16_t>(p), line);
    } else if (type == "PTR") {
      zone.add_ptr(name, line);
    } else if (type == "CNAME") {
      zone.add_cname(name, line);
    } else if (type == "NS") {
      zone.add_ns(name, line);
    } else if (type == "REV") {
      if (auto ip = spfgate::parse_ip(name)) zone.add_reverse(*ip, line);
    } else if (type == "FAIL") {
      if (auto s = status_of(line)) zone.add_name_failure(name, *s);
    } else if (type == "FAILTYPE") {
      const auto t = rr_type_of(word(line));
      const auto s = status_of(line);
      if (t && s) zone.add_type_failure(name, *t, *s);
    } else if (type == "EMPTY") {
      zone.add_empty_name(name);
    } else if (type == "BOGUS") {
      zone.set_dnssec(name, dns::Dnssec::Bogus);
    }
  }
}

class ShufflingResolver final : public dns::Resolver {
 public:
  ShufflingResolver(const dns::MemoryResolver& zone, std::uint32_t seed) : zone_(zone), state_(seed | 1) {}

  boost::asio::awaitable<dns::DnsAnswer> query(std::string name, dns::RrType type, dns::Deadline) override {
    ++queries_;
    state_ = state_ * 1103515245u + 12345u;
    const unsigned yields = (state_ >> 16) % 5;
    for (unsigned i = 0; i < yields; ++i)
      co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
    co_return zone_.lookup(name, type);
  }
  std::size_t query_count() const noexcept { return queries_; }

 private:
  const dns::MemoryResolver& zone_;
  std::uint32_t state_;
  std::size_t queries_ = 0;
};

// Runs `task` on `io` until it and everything it started have finished; an exception escaping the task
// escapes here (libFuzzer reports it as a crash). The result must be there: nothing may be left waiting.
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> result;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) error = e;
    else result.emplace(std::move(value));
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  FUZZ_CHECK(result.has_value(), std::string_view("the coroutine never finished"));
  return std::move(*result);
}

}  // namespace fuzz
