// The DNS options of the resolver and its answer cache: dns-cache-entries, dns-cache-memory and
// dns-max-outstanding, on the command line and in the file.
#include "config/error.hpp"
#include "config/options.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace spfgate::config;

namespace {

std::string error_of(const std::vector<std::string>& args) {
  try {
    load(args);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(DnsCacheOptions, DefaultsAreBounded) {
  const Settings s = load({}).settings;
  EXPECT_EQ(s.dns_cache_entries, 20000u);
  EXPECT_EQ(s.dns_cache_memory, 8u << 20);
}

TEST(DnsCacheOptions, TakeCountsAndSizes) {
  const Settings s = load({"--dns-cache-entries=500", "--dns-cache-memory=512k"}).settings;
  EXPECT_EQ(s.dns_cache_entries, 500u);
  EXPECT_EQ(s.dns_cache_memory, 512u << 10);
  EXPECT_EQ(load({"--dns-cache-entries=0"}).settings.dns_cache_entries, 0u) << "0 turns the cache off";
  EXPECT_EQ(load({"--dns-cache-memory=1g"}).settings.dns_cache_memory, 1u << 30);
  EXPECT_EQ(load({"--dns-cache-memory=65536"}).settings.dns_cache_memory, 65536u);
}

TEST(DnsCacheOptions, RefusesNonsense) {
  for (const char* bad : {"--dns-cache-memory=lots", "--dns-cache-memory=1k", "--dns-cache-memory=2g",
                          "--dns-cache-memory=8x", "--dns-cache-entries=-1", "--dns-cache-entries=many"}) {
    const std::string arg = bad;
    const std::string e = error_of({arg});
    EXPECT_NE(e, "(no error)") << arg;
    EXPECT_NE(e.find("'" + arg.substr(arg.find('=') + 1) + "'"), std::string::npos) << arg << ": " << e;
  }
}

TEST(DnsCacheOptions, ReadFromTheFileToo) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("spfgate-dns-cache-options-" + std::to_string(::getpid()) + ".conf");
  std::ofstream(path) << "dns-cache-entries = 1234\ndns_cache_memory = 2m\n";
  const Settings s = load({path.string()}).settings;
  std::filesystem::remove(path);
  EXPECT_EQ(s.dns_cache_entries, 1234u);
  EXPECT_EQ(s.dns_cache_memory, 2u << 20);
}

TEST(DnsMaxOutstanding, DefaultTakenAndBounded) {
  EXPECT_EQ(load({}).settings.dns_max_outstanding, 256u);
  EXPECT_EQ(load({"--dns-max-outstanding=32"}).settings.dns_max_outstanding, 32u);
  EXPECT_EQ(load({"--dns-max-outstanding=1"}).settings.dns_max_outstanding, 1u);
  EXPECT_EQ(load({"--dns-max-outstanding=1000"}).settings.dns_max_outstanding, 1000u);
  for (const char* bad : {"--dns-max-outstanding=0", "--dns-max-outstanding=1001"}) {
    const std::string e = error_of({bad});
    EXPECT_NE(e.find("dns-max-outstanding must be between 1 and 1000"), std::string::npos) << bad << ": " << e;
  }
  for (const char* bad : {"-5", "lots"}) {
    const std::string e = error_of({std::string("--dns-max-outstanding=") + bad});
    EXPECT_NE(e.find(std::string("'") + bad + "'"), std::string::npos) << bad << ": " << e;
  }
}
