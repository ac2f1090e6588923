// tests/conformance/spf_conformance.cpp: replays the openspf/pyspf SPF test suite through check_host().
//
//   spf_conformance [--trace] [--expect N] [suite.yml ...]     (default: the rfc7208-tests.yml copy)
//
// Each YAML document is a scenario: `zonedata` (loaded into an in-memory resolver the way pyspf's
// test/testspf.py does, see README.md) and `tests` (host, mailfrom, helo, optional receiver; result as one
// value or a list of acceptable values; optional exact explanation). Prints one line per failing test and
// ends with "N passed, M failed". Exit status: 0 if every test passed (and, with --expect, exactly N ran),
// 1 otherwise, 2 on a usage or file error.
#include "common/ip.hpp"
#include "common/text.hpp"
#include "policy/dns/memory_resolver.hpp"
#include "policy/spf/evaluator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace spfgate;

namespace {

constexpr std::size_t kDriverMaxLabel = 63;  // pydns-2.3.0 label rule emulated by testspf.py

// testspf.py's DNSLookup around the zone: empty labels dropped, over-long labels and missing "error." names
// time out. Everything else is the MemoryResolver's (NXDOMAIN vs NODATA, CNAMEs, TIMEOUT entry order).
class SuiteResolver final : public dns::Resolver {
 public:
  dns::MemoryResolver zone;

  asio::awaitable<dns::DnsAnswer> query(std::string name, dns::RrType type, dns::Deadline deadline) override {
    std::string joined;
    std::size_t begin = 0;
    while (begin <= name.size()) {
      std::size_t end = name.find('.', begin);
      if (end == std::string::npos) end = name.size();
      const std::string_view label = std::string_view(name).substr(begin, end - begin);
      if (label.size() > kDriverMaxLabel)
        co_return dns::DnsAnswer::failure(dns::DnsStatus::Timeout, "DNS label too long");
      if (!label.empty()) {
        if (!joined.empty()) joined += '.';
        joined += label;
      }
      begin = end + 1;
    }
    dns::DnsAnswer answer = co_await zone.query(joined, type, deadline);
    if (answer.status == dns::DnsStatus::NxDomain && ascii_lower(joined).rfind("error.", 0) == 0)
      co_return dns::DnsAnswer::failure(dns::DnsStatus::Timeout, "DNS timeout");
    co_return answer;
  }
};

std::optional<dns::RrType> rr_type(const std::string& t) {
  if (t == "A") return dns::RrType::A;
  if (t == "AAAA") return dns::RrType::AAAA;
  if (t == "TXT") return dns::RrType::TXT;
  if (t == "MX") return dns::RrType::MX;
  if (t == "PTR") return dns::RrType::PTR;
  if (t == "CNAME") return dns::RrType::CNAME;
  if (t == "NS") return dns::RrType::NS;
  return std::nullopt;
}

bool is_scalar(const YAML::Node& n, const char* text) { return n.IsScalar() && n.Scalar() == text; }

std::vector<std::string> strings_of(const YAML::Node& v) {
  std::vector<std::string> out;
  if (v.IsSequence())
    for (const auto& s : v) out.push_back(s.as<std::string>());
  else
    out.push_back(v.as<std::string>());
  return out;
}

// One zone entry in the order getrdata() yields them.
struct Entry {
  std::string type;  // empty: a bare TIMEOUT
  YAML::Node value;
};

void load_name(dns::MemoryResolver& zone, const std::string& name, const YAML::Node& records) {
  zone.add_empty_name(name);  // listed names exist, even with only SPF or "TXT: NONE" entries
  std::vector<Entry> entries;
  std::vector<YAML::Node> spf_values;
  bool has_txt = false;
  for (const auto& record : records) {
    if (!record.IsMap()) {  // getrdata(): a scalar such as TIMEOUT is yielded as it is
      if (is_scalar(record, "TIMEOUT")) entries.push_back({"", record});
      continue;
    }
    for (const auto& kv : record) {
      const std::string type = kv.first.as<std::string>();
      if (type == "TXT") has_txt = true;
      else if (type == "SPF") spf_values.push_back(kv.second);
      if (!is_scalar(kv.second, "NONE")) entries.push_back({type, kv.second});
    }
  }
  // SPF entries are also served as TXT, after everything else, unless the name has any TXT entry. (getrdata()
  // keeps "NONE" in these generated entries, which pyspf then reads as a TXT string "NONE".)
  if (!has_txt)
    for (const auto& v : spf_values) entries.push_back({"TXT", v});

  for (const Entry& e : entries) {
    if (e.type.empty()) {
      zone.add_name_failure(name, dns::DnsStatus::Timeout, "DNS timeout");
      continue;
    }
    const auto type = rr_type(e.type);
    if (!type) continue;  // SPF (type 99) is never queried
    if (is_scalar(e.value, "TIMEOUT")) {
      zone.add_type_failure(name, *type, dns::DnsStatus::Timeout, "DNS timeout");
      continue;
    }
    switch (*type) {
      case dns::RrType::TXT: zone.add_txt(name, strings_of(e.value)); break;
      case dns::RrType::A:
      case dns::RrType::AAAA: zone.add_a(name, e.value.as<std::string>()); break;
      case dns::RrType::MX:
        zone.add_mx(name, static_cast<std::uint16_t>(e.value[0].as<unsigned>()), e.value[1].as<std::string>());
        break;
      case dns::RrType::PTR: zone.add_ptr(name, e.value.as<std::string>()); break;
      case dns::RrType::CNAME: zone.add_cname(name, e.value.as<std::string>()); break;
      case dns::RrType::NS: zone.add_ns(name, e.value.as<std::string>()); break;
      default: break;
    }
  }
}

std::string text_of(const YAML::Node& n) { return n ? n.as<std::string>() : std::string(); }

struct Tally {
  int passed = 0;
  int failed = 0;
};

void run_test(SuiteResolver& resolver, const std::string& id, const std::string& scenario, const YAML::Node& t,
              bool trace, Tally& tally) {
  const std::string host = text_of(t["host"]), mailfrom = text_of(t["mailfrom"]), helo = text_of(t["helo"]);
  std::vector<std::string> expected;
  if (t["result"].IsSequence())
    for (const auto& r : t["result"]) expected.push_back(r.as<std::string>());
  else
    expected.push_back(text_of(t["result"]));
  const std::optional<std::string> explanation =
      t["explanation"] ? std::optional<std::string>(t["explanation"].as<std::string>()) : std::nullopt;

  const auto fail = [&](const std::string& why) {
    ++tally.failed;
    std::cout << "FAIL " << id << " (" << scenario << ", spec " << text_of(t["spec"]) << "): " << why << '\n';
  };
  const auto client = parse_ip(host);
  if (!client) return fail("bad host address " + host);

  spf::Request request;
  request.client = *client;
  request.helo = helo;
  request.receiver = text_of(t["receiver"]);
  // pyspf's query(): an empty sender with a HELO name checks the HELO identity as postmaster@helo.
  if (mailfrom.empty() && !helo.empty()) {
    request.sender = "postmaster@" + helo;
    request.identity = spf::Identity::Helo;
  } else {
    request.sender = mailfrom;
  }
  spf::Options options;
  options.default_explanation = "DEFAULT";  // as testspf.py sets it
  options.trace = trace;

  asio::io_context io;
  auto future = asio::co_spawn(
      io, spf::check_host(resolver, request, options, dns::Clock::now() + std::chrono::seconds(20)), asio::use_future);
  io.run();
  const spf::Outcome out = future.get();

  const std::string got(spf::to_string(out.result));
  bool ok = false;
  for (const auto& e : expected) ok = ok || e == got;
  std::string why;
  if (!ok) {
    why = "expected " + expected.front() + (expected.size() > 1 ? " (or another listed result)" : "") + ", got " + got;
    if (!out.problem.empty()) why += " (" + sanitize(out.problem) + ")";
  } else if (explanation && *explanation != out.explanation) {
    why = "explanation \"" + sanitize(out.explanation) + "\", expected \"" + *explanation + "\"";
  }
  if (why.empty()) {
    ++tally.passed;
    return;
  }
  fail(why);
  for (const auto& s : out.trace)
    std::cout << "    " << std::string(2 * s.depth, ' ') << sanitize(s.domain) << ": " << sanitize(s.term) << " -> "
              << sanitize(s.outcome) << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  bool trace = false;
  long expect = -1;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--trace") {
      trace = true;
    } else if (arg == "--expect" && i + 1 < argc) {
      expect = std::stol(argv[++i]);
    } else if (arg.rfind("--", 0) == 0) {
      std::cerr << "usage: spf_conformance [--trace] [--expect N] [suite.yml ...]\n";
      return 2;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) files.push_back(SPFGATE_RFC7208_SUITE);

  Tally tally;
  for (const auto& file : files) {
    std::vector<YAML::Node> scenarios;
    try {
      scenarios = YAML::LoadAllFromFile(file);
    } catch (const std::exception& e) {
      std::cerr << file << ": " << e.what() << '\n';
      return 2;
    }
    for (const auto& scenario : scenarios) {
      if (!scenario.IsMap()) continue;
      SuiteResolver resolver;
      for (const auto& kv : scenario["zonedata"])
        load_name(resolver.zone, ascii_lower(kv.first.as<std::string>()), kv.second);
      const std::string name = text_of(scenario["description"]);
      for (const auto& kv : scenario["tests"])
        run_test(resolver, kv.first.as<std::string>(), name, kv.second, trace, tally);
    }
  }
  std::cout << tally.passed << " passed, " << tally.failed << " failed" << std::endl;
  if (expect >= 0 && tally.passed + tally.failed != expect) {
    std::cout << "expected " << expect << " tests, found " << tally.passed + tally.failed << std::endl;
    return 1;
  }
  return tally.failed == 0 ? 0 : 1;
}
