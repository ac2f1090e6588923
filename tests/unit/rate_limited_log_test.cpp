// RateLimitedLog: a peer's warnings at most once per interval, counted by client rather than connection,
// the suppressed count reported with the next line, and the table of peers bounded.
#include "server/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <thread>

using spfgate::server::RateLimitedLog;

namespace {

// Captures the default logger's lines for the life of the fixture.
class RateLimitedLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
    sink_->set_pattern("%v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }
  std::vector<std::string> lines() {
    std::vector<std::string> out = sink_->last_formatted();
    for (auto& l : out)
      if (!l.empty() && l.back() == '\n') l.pop_back();
    return out;
  }

  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

}  // namespace

TEST(RateLimitedLogKey, IsTheClientNotTheConnection) {
  EXPECT_EQ(RateLimitedLog::key_of("192.0.2.1:41234"), "192.0.2.1");
  EXPECT_EQ(RateLimitedLog::key_of("[2001:db8::1]:25"), "[2001:db8::1]");
  EXPECT_EQ(RateLimitedLog::key_of("unix:/run/spfgate.sock#12"), "unix:/run/spfgate.sock");
  EXPECT_EQ(RateLimitedLog::key_of("stdin"), "stdin");
  EXPECT_EQ(RateLimitedLog::key_of("host:abc"), "host:abc") << "only a numeric port or connection number is dropped";
}

TEST_F(RateLimitedLogTest, OneLinePerPeerPerIntervalThenTheSuppressedCount) {
  RateLimitedLog log(std::chrono::seconds(1));
  log.warn("192.0.2.1:1000", "a: first");
  log.warn("192.0.2.1:1001", "a: second");  // same client, a new connection: suppressed
  log.warn("192.0.2.1:1002", "a: third");
  log.warn("198.51.100.7:5", "b: first");  // another client has its own allowance
  EXPECT_EQ(lines(), (std::vector<std::string>{"a: first", "b: first"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the interval (not a timing assertion)
  log.warn("192.0.2.1:1003", "a: fourth");
  log.warn("198.51.100.7:6", "b: second");
  EXPECT_EQ(lines(), (std::vector<std::string>{"a: first", "b: first",
                                               "a: fourth (2 similar warnings for 192.0.2.1 suppressed)",
                                               "b: second"}));
}

TEST_F(RateLimitedLogTest, StaysBoundedWhenManyPeersAreFresh) {
  RateLimitedLog log(std::chrono::seconds(60), 3);
  log.warn("192.0.2.1:1", "p1");
  log.warn("192.0.2.2:1", "p2");
  log.warn("192.0.2.3:1", "p3");
  log.warn("192.0.2.1:2", "p1 again");  // known and fresh: suppressed
  log.warn("192.0.2.4:1", "p4");        // a fourth peer: the full, all-fresh table is dropped
  log.warn("192.0.2.1:3", "p1 after the reset");  // so p1 is new again
  EXPECT_EQ(lines(), (std::vector<std::string>{"p1", "p2", "p3", "p4", "p1 after the reset"}));
}

TEST_F(RateLimitedLogTest, WorkerThreadsShareOneBudgetPerPeer) {
  // With `threads`, one log serves every worker: a client spread over four of them still gets one line.
  RateLimitedLog log(std::chrono::seconds(60));
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&log, t] {
      for (int i = 0; i < 50; ++i) log.warn("192.0.2.1:" + std::to_string(1000 + t * 100 + i), "a: flood");
    });
  for (auto& w : workers) w.join();
  EXPECT_EQ(lines(), (std::vector<std::string>{"a: flood"}));
}
