// UnboundResolver construction: bad options fail at once with libunbound's message; queries that need
// no network (invalid names, passed deadlines) complete at once. No traffic is sent by these tests.
#include "policy/dns/unbound_resolver.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace spfgate::dns;

namespace {

class TempFile {
 public:
  explicit TempFile(const std::string& content)
      : path_(std::filesystem::temp_directory_path() /
              ("spfgate-unbound-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

std::string construction_error(UnboundOptions options) {
  asio::io_context io;
  try {
    UnboundResolver r(io.get_executor(), std::move(options));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST(UnboundOptions, DefaultsConstruct) {
  asio::io_context io;
  UnboundResolver r(io.get_executor(), UnboundOptions{});
  EXPECT_EQ(r.options().trust_anchor_file, "/usr/share/dns/root.key");
  EXPECT_TRUE(r.options().validate);
  EXPECT_EQ(r.options().query_timeout, 10s);
  EXPECT_EQ(r.in_flight(), 0u);
}

TEST(UnboundOptions, BadConfigFileThrowsNamingIt) {
  TempFile bad("server:\n    no-such-option-here: 1\n");
  UnboundOptions o;
  o.config_file = bad.path();
  const std::string what = construction_error(o);
  EXPECT_NE(what.find(bad.path()), std::string::npos) << what;
  EXPECT_NE(what.find("syntax error"), std::string::npos) << what;

  o.config_file = "/nonexistent/spfgate/unbound.conf";
  EXPECT_NE(construction_error(o).find("cannot read config file"), std::string::npos);
}

TEST(UnboundOptions, BadOptionsThrow) {
  UnboundOptions unknown;
  unknown.extra_options = {"no-such-option: 1"};
  EXPECT_NE(construction_error(unknown).find("no-such-option"), std::string::npos);
  UnboundOptions no_colon;
  no_colon.extra_options = {"msg-cache-size 4m"};
  EXPECT_NE(construction_error(no_colon).find("name: value"), std::string::npos);
  UnboundOptions bad_value;
  bad_value.extra_options = {"msg-cache-size: lots"};
  EXPECT_FALSE(construction_error(bad_value).empty());
  UnboundOptions fwd;
  fwd.forwarders = {"not an address"};
  EXPECT_NE(construction_error(fwd).find("forwarder"), std::string::npos);
  UnboundOptions timeout;
  timeout.query_timeout = 0ms;
  EXPECT_FALSE(construction_error(timeout).empty());
}

TEST(UnboundOptions, BadTrustAnchorsFailAtConstruction) {
  UnboundOptions missing;
  missing.trust_anchor_file = "/nonexistent/root.key";
  EXPECT_NE(construction_error(missing).find("trust anchor"), std::string::npos);
  TempFile garbage("this is not a trust anchor\n");
  UnboundOptions bad;
  bad.trust_anchor_file = garbage.path();
  EXPECT_FALSE(construction_error(bad).empty());  // found when the context is finalized
  // Without validation the anchors are not even read.
  bad.validate = false;
  EXPECT_EQ(construction_error(bad), "");
}

TEST(UnboundOptions, QueriesThatNeedNoNetworkCompleteAtOnce) {
  asio::io_context io;
  UnboundResolver r(io.get_executor(), UnboundOptions{});
  auto invalid = asio::co_spawn(io, r.query("a..b.example", RrType::A, Clock::now() + 5s), asio::use_future);
  auto passed = asio::co_spawn(io, r.query("example.com", RrType::A, Clock::now() - 1s), asio::use_future);
  io.run();
  const DnsAnswer a = invalid.get();
  EXPECT_EQ(a.status, DnsStatus::Error);
  EXPECT_NE(a.why.find("invalid query name"), std::string::npos) << a.why;
  EXPECT_EQ(passed.get().status, DnsStatus::Timeout);
  EXPECT_EQ(r.in_flight(), 0u);
}
