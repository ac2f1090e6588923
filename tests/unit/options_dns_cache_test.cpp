// The answer cache's options: dns-cache-entries and dns-cache-memory, on the command line and in the file.
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
