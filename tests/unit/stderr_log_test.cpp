// The stderr log target: whole lines in order, written at once by a thread without a loop, batched until
// the ready handlers have run on a thread that runs an io_context, warnings never held back, and lines of
// two threads never mixed. stderr is a pipe for the life of each test.
#include "server/logging.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

class StderrLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end_ = fds[0];
    ::fcntl(read_end_, F_SETFL, O_NONBLOCK);  // the test reads what is there; the logger's end blocks
    saved_stderr_ = ::dup(STDERR_FILENO);
    ASSERT_GE(saved_stderr_, 0);
    ASSERT_EQ(::dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    ::close(fds[1]);
    // Room for the threads' tests without a reader (a full pipe would block the logging threads).
    ASSERT_GE(::fcntl(read_end_, F_SETPIPE_SZ, 1 << 20), 1 << 20);
    spfgate::server::setup_logging(stderr_settings());
  }
  void TearDown() override {
    spfgate::server::end_batched_log_lines();
    ::dup2(saved_stderr_, STDERR_FILENO);
    ::close(saved_stderr_);
    ::close(read_end_);
    spdlog::set_default_logger(previous_);
  }
  static spfgate::config::Settings stderr_settings() {
    spfgate::config::Settings s = spfgate::config::defaults();
    s.log_target = spfgate::config::LogTarget::Stderr;
    s.log_level = "info";
    return s;
  }
  // Line `i` of thread `tag`: "<tag> <i> " and i % pad copies of the tag, so that a mixed line shows.
  static void log_numbered(char tag, int i, int pad) {
    spdlog::info("{} {:05} {}", tag, i, std::string(static_cast<std::size_t>(i % pad), tag));
  }
  // What was written holds `lines` lines of log_numbered() from threads 'a' and 'b', each whole and each
  // thread's in order.
  void expect_both_threads_whole_and_in_order(int lines, int pad) {
    int next_a = 0, next_b = 0;
    for (const auto& l : written()) {
      ASSERT_GE(l.size(), 12u) << l;
      const char tag = l[5];
      const int n = std::stoi(l.substr(7, 5));
      EXPECT_EQ(l.substr(13), std::string(static_cast<std::size_t>(n % pad), tag)) << l;
      if (tag == 'a') EXPECT_EQ(n, next_a++);
      else EXPECT_EQ(n, next_b++);
    }
    EXPECT_EQ(next_a, lines);
    EXPECT_EQ(next_b, lines);
  }
  // Everything written so far, as lines with the prefix checked and taken off.
  std::vector<std::string> written() {
    std::string data;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(read_end_, buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    static const std::regex prefix(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} spfgate\[\d+\]: (\w+): (.*)$)");
    std::vector<std::string> lines;
    std::size_t at = 0;
    while (at < data.size()) {
      const auto nl = data.find('\n', at);
      EXPECT_NE(nl, std::string::npos) << "a line without its newline: " << data.substr(at);
      if (nl == std::string::npos) break;
      const std::string line = data.substr(at, nl - at);
      std::smatch m;
      EXPECT_TRUE(std::regex_match(line, m, prefix)) << "not a whole log line: " << line;
      lines.push_back(m.size() == 3 ? m[1].str() + " " + m[2].str() : line);
      at = nl + 1;
    }
    return lines;
  }

  std::shared_ptr<spdlog::logger> previous_;
  int read_end_ = -1;
  int saved_stderr_ = -1;
};

using Lines = std::vector<std::string>;

}  // namespace

TEST_F(StderrLogTest, WithoutALoopEachLineIsWrittenAtOnce) {
  spdlog::info("first {}", 1);
  EXPECT_EQ(written(), Lines{"info first 1"});
  spdlog::debug("below the level");
  spdlog::error("second");
  EXPECT_EQ(written(), Lines{"error second"});
}

TEST_F(StderrLogTest, OnALoopLinesWaitForTheReadyHandlersThenGoOutInOrder) {
  boost::asio::io_context io(1);
  spfgate::server::batch_log_lines_on(io);
  spdlog::info("one");
  boost::asio::post(io, [] { spdlog::info("three"); });  // a handler that logs: out in the same turn
  spdlog::info("two");
  EXPECT_EQ(written(), Lines{}) << "written before the loop came round";
  io.poll();
  EXPECT_EQ(written(), (Lines{"info one", "info two", "info three"}));
  // A warning goes out at once, behind the lines still waiting.
  spdlog::info("four");
  spdlog::warn("five");
  EXPECT_EQ(written(), (Lines{"info four", "warning five"}));
  // What is left when the loop is done is written by end_batched_log_lines(); later lines go at once.
  spdlog::info("six");
  EXPECT_EQ(written(), Lines{});
  spfgate::server::end_batched_log_lines();
  EXPECT_EQ(written(), Lines{"info six"});
  spdlog::info("seven");
  EXPECT_EQ(written(), Lines{"info seven"});
}

TEST_F(StderrLogTest, APendingBatchNeverHoldsMoreThanAPipeTakesWhole) {
  boost::asio::io_context io(1);
  spfgate::server::batch_log_lines_on(io);
  const std::string text(100, 'x');
  for (int i = 0; i < 100; ++i) spdlog::info("{:03} {}", i, text);  // about 13 kB
  const Lines early = written();
  EXPECT_GE(early.size(), 60u) << "lines held back beyond PIPE_BUF";
  EXPECT_LT(early.size(), 100u) << "every line written at once";
  io.poll();
  Lines all = early;
  for (auto& l : written()) all.push_back(l);
  ASSERT_EQ(all.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(all[static_cast<std::size_t>(i)].substr(0, 8), fmt::format("info {:03}", i));
}

TEST_F(StderrLogTest, TwoThreadsLinesStayWholeAndEachThreadsInOrder) {
  constexpr int kLines = 2000;
  auto worker = [](char tag) {
    boost::asio::io_context io(1);
    spfgate::server::batch_log_lines_on(io);
    for (int i = 0; i < kLines; ++i) {
      boost::asio::post(io, [tag, i] { log_numbered(tag, i, 200); });
      if (i % 7 == 0) {
        io.restart();  // poll() stops the context whenever it runs out of handlers
        io.poll();
      }
    }
    io.restart();
    io.poll();
    spfgate::server::end_batched_log_lines();
  };
  std::thread a(worker, 'a'), b(worker, 'b');
  a.join();
  b.join();
  expect_both_threads_whole_and_in_order(kLines, 200);
}

TEST_F(StderrLogTest, ReplacingTheTargetWhileTwoThreadsLogLosesAndMixesNoLine) {
  // A reload (SIGHUP) builds a new stderr target while the workers keep logging: every line still goes
  // out once, whole and in its thread's order, whichever target formatted it.
  constexpr int kLines = 3000;
  std::atomic<bool> go{false};
  auto worker = [&go](char tag, bool loop) {
    boost::asio::io_context io(1);
    if (loop) spfgate::server::batch_log_lines_on(io);
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < kLines; ++i) {
      log_numbered(tag, i, 50);
      if (loop && i % 5 == 0) {
        io.restart();
        io.poll();
      }
    }
    if (loop) {
      io.restart();
      io.poll();
      spfgate::server::end_batched_log_lines();
    }
  };
  std::thread a(worker, 'a', true), b(worker, 'b', false);
  const spfgate::config::Settings s = stderr_settings();
  go = true;
  for (int k = 0; k < 50; ++k) spfgate::server::setup_logging(s);
  a.join();
  b.join();
  expect_both_threads_whole_and_in_order(kLines, 50);
}
