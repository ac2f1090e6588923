// fuzz_check_host: RFC 7208 check_host() (policy/spf/evaluator.hpp) over a zone the fuzzer writes.
//
// Input: a request section, "\n%%\n", then zone lines (fuzz_dns.hpp). Request lines: "client <ip>",
// "sender <text>", "helo <text>", "receiver <text>", "domain <text>", "identity helo", "voids <0-9>".
// The coroutine runs on a local io_context; the zone is in memory, so every evaluation ends at once.
// Invariants: the evaluation finishes and throws nothing; it sends at most 1 + 10 x 11 + 1 queries (the
// record, ten DNS terms of at most one lookup plus ten address lookups each, the exp= text) and counts
// every one; the term and void counters stop one past their limits; errors carry a printable problem; a
// fail carries a clean explanation; the mechanism is printable; the outcome does not depend on the order in
// which concurrent lookups complete; the headers built from it keep their structure (fuzz_headers.hpp).
#include "fuzz_common.hpp"
#include "fuzz_dns.hpp"
#include "fuzz_headers.hpp"

#include "policy/spf/evaluator.hpp"

namespace spf = spfgate::spf;
namespace dns = spfgate::dns;

namespace {

// RFC 7208 §4.6.4 with the default limits: the top record, max_dns_terms terms each costing at most one
// lookup of its own plus max(max_mx_names, max_ptr_names) address lookups, and the exp= TXT lookup.
constexpr std::size_t kMaxQueries = 1 + 10 * (1 + 10) + 1;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  spf::Request request;
  request.client = *spfgate::parse_ip("192.0.2.1");
  spf::Options options;
  options.trace = true;
  for (std::string_view line : fuzz::lines_of(in.section())) {
    const std::string_view key = fuzz::word(line);
    if (key == "client") {
      if (auto ip = spfgate::parse_ip(line)) request.client = *ip;
    } else if (key == "sender") {
      request.sender = line;
    } else if (key == "helo") {
      request.helo = line;
    } else if (key == "receiver") {
      request.receiver = line;
    } else if (key == "domain") {
      request.domain = line;
    } else if (key == "identity") {
      request.identity = line == "helo" ? spf::Identity::Helo : spf::Identity::MailFrom;
    } else if (key == "voids" && line.size() == 1 && line[0] >= '0' && line[0] <= '9') {
      options.limits.max_void_lookups = static_cast<unsigned>(line[0] - '0');
    }
  }
  dns::MemoryResolver zone;
  fuzz::load_zone(zone, in.rest());
  const auto deadline = dns::Clock::now() + std::chrono::hours(1);

  boost::asio::io_context io;
  const spf::Outcome out = fuzz::run(io, spf::check_host(zone, request, options, deadline));

  FUZZ_CHECK(zone.query_count() == out.dns_queries, std::to_string(zone.query_count()));
  FUZZ_CHECK(out.dns_queries <= kMaxQueries, std::to_string(out.dns_queries));
  FUZZ_CHECK(out.dns_terms <= options.limits.max_dns_terms + 1, std::to_string(out.dns_terms));
  FUZZ_CHECK(out.void_lookups <= options.limits.max_void_lookups + 1, std::to_string(out.void_lookups));
  if (out.dns_terms > options.limits.max_dns_terms || out.void_lookups > options.limits.max_void_lookups)
    FUZZ_CHECK(out.result == spf::Result::PermError, out.problem);
  if (out.result == spf::Result::PermError || out.result == spf::Result::TempError)
    FUZZ_CHECK(!out.problem.empty(), out.mechanism);
  FUZZ_CHECK(fuzz::is_printable_ascii(out.problem) && out.problem.size() <= 400, out.problem);
  FUZZ_CHECK(fuzz::is_printable_ascii(out.mechanism), out.mechanism);
  FUZZ_CHECK(fuzz::is_clean_text(out.explanation), out.explanation);
  if (out.result == spf::Result::Fail) FUZZ_CHECK(!out.explanation.empty(), out.explanation);
  else FUZZ_CHECK(out.explanation.empty(), out.explanation);
  for (const spf::TraceStep& step : out.trace) {
    FUZZ_CHECK(step.depth <= options.limits.max_dns_terms + 1, step.term);
    FUZZ_CHECK(fuzz::is_printable_ascii(step.term), step.term);
  }

  // The same evaluation with lookups completing in another order gives the same outcome.
  fuzz::ShufflingResolver shuffled(zone, static_cast<std::uint32_t>(size));
  options.trace = false;
  const spf::Outcome again = fuzz::run(io, spf::check_host(shuffled, request, options, deadline));
  FUZZ_CHECK(again.result == out.result, spf::to_string(again.result));
  FUZZ_CHECK(again.problem == out.problem, again.problem);
  FUZZ_CHECK(again.mechanism == out.mechanism, again.mechanism);
  FUZZ_CHECK(again.dns_queries == out.dns_queries && shuffled.query_count() == out.dns_queries,
             std::to_string(again.dns_queries));

  const spf::HeaderInputs inputs{request.client, request.helo, request.sender, request.receiver};
  fuzz::check_spf_headers(out, request.identity, inputs);
  return 0;
}
