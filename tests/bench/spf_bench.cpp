// tests/bench/spf_bench.cpp: the cost of one SPF evaluation with every answer in memory.
//
// The reference record is "v=spf1 ip4:192.0.2.0/24 include:_spf.example.com mx -all" (libspf2 takes
// 4.5-6.7 us for it). Two clients walk the whole record: one matches only through the mx mechanism (pass),
// the other matches nothing (fail, default explanation). Each iteration is a complete check_host(): the
// coroutine started on an io_context and run to completion, 4 resolver queries, the Outcome built.
#include "policy/dns/memory_resolver.hpp"
#include "policy/spf/evaluator.hpp"
#include "policy/spf/macro.hpp"
#include "policy/spf/record.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace asio = boost::asio;
using namespace spfgate;

namespace {

constexpr std::string_view kRecord = "v=spf1 ip4:192.0.2.0/24 include:_spf.example.com mx -all";

void fill_zone(dns::MemoryResolver& r) {
  r.add_txt("example.com", {std::string(kRecord)});
  r.add_txt("_spf.example.com", {"v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all"});
  r.add_mx("example.com", 10, "mx.example.com");
  r.add_a("mx.example.com", "203.0.113.5");
}

void BM_CheckHost(benchmark::State& state, const char* client, spf::Result expected) {
  dns::MemoryResolver resolver;
  fill_zone(resolver);
  spf::Request request;
  request.client = *parse_ip(client);
  request.sender = "user@example.com";
  request.helo = "mail.example.com";
  request.receiver = "mx.example.net";
  const spf::Options options;
  asio::io_context io;
  spf::Outcome out;
  const auto deadline = dns::Clock::now() + std::chrono::hours(1);
  for (auto _ : state) {
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out = co_await spf::check_host(resolver, request, options, deadline); },
        asio::detached);
    io.run();
    io.restart();
    benchmark::DoNotOptimize(out);
    // The resolver logs every query for tests; keep that log from growing through the run.
    if (resolver.query_count() > 4096) resolver.clear_queries();
  }
  if (out.result != expected) state.SkipWithError("unexpected SPF result");
  state.counters["queries"] = out.dns_queries;
}
BENCHMARK_CAPTURE(BM_CheckHost, pass_via_mx, "203.0.113.5", spf::Result::Pass);
BENCHMARK_CAPTURE(BM_CheckHost, fail_whole_record, "203.0.113.99", spf::Result::Fail);

void BM_ParseRecord(benchmark::State& state) {
  spf::Record record;
  for (auto _ : state) {
    benchmark::DoNotOptimize(spf::parse_record(kRecord, record));
    benchmark::DoNotOptimize(record);
  }
}
BENCHMARK(BM_ParseRecord);

void BM_ExpandDomainSpec(benchmark::State& state) {
  spf::MacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = v.domain = "email.example.com";
  v.client = *parse_ip("192.0.2.3");
  std::string out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(spf::expand_domain_spec("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", v, out));
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_ExpandDomainSpec);

}  // namespace

BENCHMARK_MAIN();
