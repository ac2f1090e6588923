// fuzz_policy: a whole request, from the bytes on the socket to the reply — RequestParser, PolicyRequest,
// the Engine with every check turned on (bypass lists, helo_access tables of each type, HELO checks,
// iprev, SPF for HELO and MAIL FROM, both header layouts, the per-message cache) over a zone the fuzzer
// writes, and format_reply().
//
// Input: a byte choosing one of three configurations, zone lines (fuzz_dns.hpp), "\n%%\n", then the
// protocol stream (any number of requests; a fuzzed one starts from a real Postfix request in the seeds).
// Invariants: every request gets exactly one answer and nothing throws; the reply is one clean line of at
// most 510 octets; a PREPEND reaches Postfix uncut and its header is well-formed (closed quotes and
// comments, under RFC 5322's 998 octets); the decision log lines are clean and bounded; a request with a
// temporary DNS failure everywhere (zone section "SERVFAIL") is rejected only by a check that needs no DNS.
// A request answered from the result caches (a second pass over the stream) gets the answer it got cold.
// Every input stands alone: the configurations are parsed once, the engine (and its caches) built per input.
#include "fuzz_common.hpp"
#include "fuzz_dns.hpp"

#include "config/options.hpp"
#include "policy/engine.hpp"
#include "server/codec.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <initializer_list>

namespace config = spfgate::config;
namespace policy = spfgate::policy;
namespace dns = spfgate::dns;

namespace {

std::vector<std::string> base_args() {
  const std::string data = SPFGATE_TEST_DATA "/access/";
  return {"--Header_Type=SPF,AR",
          "--Authserv_Id=mx.example.net",
          "--skip_addresses=127.0.0.1/32",
          "--Whitelist=192.0.2.128/25",
          "--HELO_Whitelist=helo-ok.example.org",
          "--Domain_Whitelist=whitelisted.example.org",
          "--Domain_Whitelist_PTR=trusted.example.org",
          "--Reject_Not_Pass_Domains=strict.example.org",
          "--helo-access=pcre:" + data + "helo_access.pcre,hash:" + data + "helo_access,cidr:" + data +
              "helo_access.cidr,regexp:" + data + "helo_access.regexp",
          "--helo-syntax=reject",
          "--helo-fqdn=warn",
          "--helo-dns=defer",
          "--helo-literal=reject",
          "--helo-local=reject",
          "--helo-local-names=mx.example.net,[192.0.2.25]",
          "--iprev-fail=reject",
          "--iprev-permerror=warn",
          "--iprev-temperror=defer",
          "--iprev-header=yes",
          "--Why_URL=http://www.example.net/why",
          "--Lookup_Time=5",
          "--Whitelist_Lookup_Time=5"};
}

std::shared_ptr<const config::Settings> make_settings(std::vector<std::string> extra) {
  std::vector<std::string> args = base_args();
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_shared<const config::Settings>(config::load(args).settings);
}

// Parsed once; each input gets engines of its own (below), so that no result cached from one input's zone
// decides another's: a finding must reproduce from its input alone.
const std::vector<std::shared_ptr<const config::Settings>>& configurations() {
  static const auto all = [] {
    // No log output while fuzzing (table warnings at start-up); the answers' log lines are checked directly.
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_st>()));
    return std::vector<std::shared_ptr<const config::Settings>>{
        make_settings({"--HELO_reject=SPF_Not_Pass", "--Mail_From_reject=Softfail", "--PermError_reject=True",
                       "--TempError_Defer=True"}),
        make_settings({"--Header_Style=rfc7208", "--HELO_reject=Null", "--Mail_From_reject=Fail",
                       "--HELO_pass_restriction=helo_pass", "--Mail_From_pass_restriction=mfrom_pass", "--No_Mail=yes",
                       "--SPF_Enhanced_Status_Codes=no", "--Hide_Receiver=yes"}),
        make_settings({"--TestOnly=0", "--Header_Type=AR", "--Reason_Message=Go away: {spf} {url} ({rejectdefer})",
                       "--Receiver_Name=gateway.example.net"}),
    };
  }();
  return all;
}

bool starts_with_word(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != word[i]) return false;
  }
  return s.size() == word.size() || s[word.size()] == ' ';
}

bool one_of(std::string_view key, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names)
    if (key == n) return true;
  return false;
}

// The keys a request can reach in the headers spfgate writes: each known key once, nothing else. A value
// that ended a quoted-string or a comment early would show up here as a key of its own.
void check_header_structure(std::string_view name, std::string_view value) {
  fuzz::HeaderParts parts;
  if (name == "Received-SPF") {
    FUZZ_CHECK(fuzz::split_header(value, parts), value);
    std::vector<std::string> seen;
    for (const std::string& part : parts.parts)
      for (const std::string& key : fuzz::keys_of(part)) {
        FUZZ_CHECK(one_of(key, {"identity", "client-ip", "helo", "envelope-from", "receiver", "mechanism", "problem"}),
                   std::string(value));
        FUZZ_CHECK(std::find(seen.begin(), seen.end(), key) == seen.end(), std::string(value));
        seen.push_back(key);
      }
  } else if (name == "Authentication-Results") {
    FUZZ_CHECK(fuzz::split_header(value, parts), value);
    FUZZ_CHECK(fuzz::keys_of(parts.parts[0]).empty(), value);  // the authserv-id
    for (std::size_t i = 1; i < parts.parts.size(); ++i) {
      const auto keys = fuzz::keys_of(parts.parts[i]);
      if (keys.empty()) {  // "none": the no-result form
        std::string_view p = parts.parts[i];
        while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
        while (!p.empty() && p.back() == ' ') p.remove_suffix(1);
        FUZZ_CHECK(p == "none" && parts.parts.size() == 2, value);
        continue;
      }
      FUZZ_CHECK(keys.size() <= 2 && one_of(keys[0], {"spf", "iprev"}), value);
      if (keys.size() == 2) FUZZ_CHECK(one_of(keys[1], {"smtp.mailfrom", "smtp.helo", "policy.iprev"}), value);
    }
  }
}

void check_answer(const policy::Answer& a, bool all_servfail) {
  FUZZ_CHECK(!a.action.empty(), a.action);
  const std::string reply = spfgate::server::format_reply(a.action);
  fuzz::check_reply(reply);
  if (starts_with_word(a.action, "prepend")) {
    FUZZ_CHECK(reply == "action=" + a.action + "\n\n", a.action);  // a header is never cut
    const std::string_view header = std::string_view(a.action).substr(8);
    FUZZ_CHECK(header.size() <= 998, header);
    const auto colon = header.find(": ");
    FUZZ_CHECK(colon != std::string_view::npos, header);
    check_header_structure(header.substr(0, colon), header.substr(colon + 2));
  }
  FUZZ_CHECK(fuzz::is_clean_text(a.log_line) && a.log_line.size() <= 2048, a.log_line);
  FUZZ_CHECK(fuzz::is_clean_text(a.details), a.details);
  if (all_servfail && a.kind == policy::DecisionKind::Reject) {
    // Only checks that need no DNS may reject when DNS fails: helo_access and the HELO syntax checks.
    std::string_view checks = a.deciding_check;
    while (!checks.empty()) {
      const auto plus = checks.find('+');
      const std::string_view check = checks.substr(0, plus);
      FUZZ_CHECK(check == "helo_access" || check == "helo", a.deciding_check + ": " + a.action);
      checks = plus == std::string_view::npos ? std::string_view{} : checks.substr(plus + 1);
    }
  }
}

// Every query fails temporarily, as when the resolver cannot reach any server.
class FailingResolver final : public dns::Resolver {
 public:
  boost::asio::awaitable<dns::DnsAnswer> query(std::string, dns::RrType, dns::Deadline) override {
    co_return dns::DnsAnswer::failure(dns::DnsStatus::ServFail, "no server reachable");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const auto& settings = configurations()[in.byte() % configurations().size()];
  const std::string_view zone_text = in.section();
  dns::MemoryResolver zone;
  fuzz::load_zone(zone, zone_text);
  FailingResolver failing;
  const bool all_servfail = zone_text == "SERVFAIL";  // a zone section of just this: every lookup fails
  dns::Resolver& resolver = all_servfail ? static_cast<dns::Resolver&>(failing) : zone;
  const std::string_view stream = in.rest();

  // Two passes over the stream with one engine: the second finds in the result caches what the first
  // left there, so its checks answer from them (evaluate_now) where the first looked up. Each request
  // must get the same answer both times; each pass has a message cache of its own.
  const auto engine = policy::Engine::build(settings);
  std::vector<policy::Answer> first;
  for (int pass = 0; pass < 2; ++pass) {
    spfgate::server::RequestParser parser(spfgate::server::CodecLimits{});
    policy::MessageCache cache;
    boost::asio::io_context io;
    std::string_view rest = stream;
    std::size_t n = 0;
    while (!rest.empty()) {
      const auto status = parser.feed(rest);
      if (status != spfgate::server::ParseStatus::Request) break;
      spfgate::server::RawRequest raw = parser.take();
      if (raw.fault != spfgate::server::Fault::None || raw.attributes.empty()) continue;  // answered by the server
      const policy::PolicyRequest request = policy::PolicyRequest::from(std::move(raw.attributes));
      const auto deadline = dns::Clock::now() + std::chrono::seconds(30);
      policy::Answer a = fuzz::run(io, engine->handle(request, resolver, cache, deadline));
      if (pass == 0) {
        check_answer(a, all_servfail);
        first.push_back(std::move(a));
      } else {
        FUZZ_CHECK(n < first.size(), a.action);
        const policy::Answer& cold = first[n];
        FUZZ_CHECK(a.action == cold.action, "warm: " + a.action + " cold: " + cold.action);
        FUZZ_CHECK(a.kind == cold.kind && a.deciding_check == cold.deciding_check, a.action);
        FUZZ_CHECK(a.log_line == cold.log_line, "warm: " + a.log_line + " cold: " + cold.log_line);
      }
      ++n;
    }
  }
  return 0;
}
