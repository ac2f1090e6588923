// tests/dns/testdns_rig.hpp: finding the running test DNS (tests/dns/testdns.py) from a GoogleTest.
//
//   std::string why;
//   auto rig = spfgate::test::TestDns::load(why);    // nullopt (and why) if not running
//   if (!rig) FAIL() << why;
//   rig->stub_conf();  rig->value("TESTDNS_NSD_PORT");  rig->options();   // UnboundOptions for the rig
//
// ctest passes SPFGATE_TESTDNS_DIR to tests attached with spfgate_needs_testdns(); DIR/env holds the rest
// as KEY=value lines (values shell-quoted by Python's shlex.quote, which this undoes for the simple forms
// it produces). Running a test binary by hand: start the rig, export SPFGATE_TESTDNS_DIR=DIR.
#pragma once

#include "policy/dns/unbound_resolver.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

namespace spfgate::test {

class TestDns {
 public:
  static std::optional<TestDns> load(std::string& why) {
    const char* dir = std::getenv("SPFGATE_TESTDNS_DIR");
    if (dir == nullptr || *dir == '\0') {
      why = "SPFGATE_TESTDNS_DIR is not set: run through ctest (fixture testdns), or start "
            "tests/dns/testdns.py start --dir DIR and export SPFGATE_TESTDNS_DIR=DIR";
      return std::nullopt;
    }
    TestDns rig;
    rig.dir_ = dir;
    std::ifstream in(rig.dir_ / "env");
    if (!in) {
      why = "no " + (rig.dir_ / "env").string() + ": the test DNS did not start (see testdns_start's output)";
      return std::nullopt;
    }
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string value = line.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') value = value.substr(1, value.size() - 2);
      rig.values_[line.substr(0, eq)] = value;
    }
    for (const char* key : {"TESTDNS_NSD_PORT", "TESTDNS_PROXY_PORT", "TESTDNS_UNBOUND_CONF"}) {
      if (rig.value(key).empty()) {
        why = std::string(key) + " missing from " + (rig.dir_ / "env").string();
        return std::nullopt;
      }
    }
    return rig;
  }

  const std::filesystem::path& dir() const { return dir_; }
  std::string value(const std::string& key) const {
    const auto it = values_.find(key);
    return it == values_.end() ? std::string() : it->second;
  }
  std::string stub_conf() const { return value("TESTDNS_UNBOUND_CONF"); }

  // Resolver options aimed at the rig only: its stub config brings the trust anchors.
  dns::UnboundOptions options() const {
    dns::UnboundOptions o;
    o.config_file = stub_conf();
    o.trust_anchor_file.clear();
    return o;
  }

 private:
  std::filesystem::path dir_;
  std::map<std::string, std::string> values_;
};

}  // namespace spfgate::test
