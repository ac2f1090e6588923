// common/metrics: the Prometheus exposition of counters and of the latency histograms.
#include "common/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

using spfgate::Metrics;

namespace {

std::string line_of(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  const auto end = text.find('\n', at + 1);
  return text.substr(at + 1, end - at - 1);
}

}  // namespace

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  for (double s : {0.00005, 0.0001, 0.0003, 0.002, 0.002, 0.7, 9.0}) m.observe_dns(s);
  m.observe_request(0.003);
  const std::string text = m.exposition();
  const std::string h = "spfgate_dns_query_duration_seconds";
  EXPECT_EQ(line_of(text, h + "_bucket{le=\"0.0001\"}"), h + "_bucket{le=\"0.0001\"} 2");  // le is inclusive
  EXPECT_EQ(line_of(text, h + "_bucket{le=\"0.00025\"}"), h + "_bucket{le=\"0.00025\"} 2");
  EXPECT_EQ(line_of(text, h + "_bucket{le=\"0.0005\"}"), h + "_bucket{le=\"0.0005\"} 3");
  EXPECT_EQ(line_of(text, h + "_bucket{le=\"0.0025\"}"), h + "_bucket{le=\"0.0025\"} 5");
  EXPECT_EQ(line_of(text, h + "_bucket{le=\"0.5\"}"), h + "_bucket{le=\"0.5\"} 5");
  EXPECT_EQ(line_of(text, h + "_bucket{le=\"1\"}"), h + "_bucket{le=\"1\"} 6");
  EXPECT_EQ(line_of(text, h + "_bucket{le=\"5\"}"), h + "_bucket{le=\"5\"} 6");
  EXPECT_EQ(line_of(text, h + "_bucket{le=\"+Inf\"}"), h + "_bucket{le=\"+Inf\"} 7");  // 9 s only here
  EXPECT_EQ(line_of(text, h + "_count"), h + "_count 7");
  // The request histogram is its own.
  const std::string r = "spfgate_request_duration_seconds";
  EXPECT_EQ(line_of(text, r + "_bucket{le=\"0.0025\"}"), r + "_bucket{le=\"0.0025\"} 0");
  EXPECT_EQ(line_of(text, r + "_bucket{le=\"0.005\"}"), r + "_bucket{le=\"0.005\"} 1");
  EXPECT_EQ(line_of(text, r + "_count"), r + "_count 1");
}

TEST(Metrics, CountersAndTheSummaryLine) {
  Metrics m;
  m.add(m.ids().requests, {});
  m.add(m.ids().requests, {});
  m.add(m.ids().answers, {"reject"});
  m.observe_request(0.004);
  m.observe_request(0.002);
  EXPECT_EQ(m.get(m.ids().answers, {"reject"}), 1);
  const std::string summary = m.summary();
  EXPECT_NE(summary.find("requests=2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("reject=1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("mean_ms=3"), std::string::npos) << summary;
}

TEST(Metrics, CountsOfEveryThreadAddUp) {
  // The worker threads count into shards of their own; the exposition and get() add them up, also while
  // the threads are still counting.
  Metrics m;
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kEach; ++i) {
        m.add(m.ids().requests, {});
        m.add(m.ids().answers, {t % 2 ? "reject" : "prepend"});
        m.observe_request(0.001);
      }
    });
  const std::string during = m.exposition();  // must not race with the counting (ThreadSanitizer)
  EXPECT_NE(during.find("spfgate_requests_total "), std::string::npos);
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.get(m.ids().requests, {}), kThreads * kEach);
  EXPECT_EQ(m.get(m.ids().answers, {"reject"}), kThreads / 2 * kEach);
  const std::string text = m.exposition();
  EXPECT_EQ(line_of(text, "spfgate_requests_total"), "spfgate_requests_total " + std::to_string(kThreads * kEach));
  EXPECT_EQ(line_of(text, "spfgate_request_duration_seconds_count"),
            "spfgate_request_duration_seconds_count " + std::to_string(kThreads * kEach));
  EXPECT_NE(m.summary().find("requests=" + std::to_string(kThreads * kEach)), std::string::npos) << m.summary();
  // A gauge is set from one thread: its value, once.
  m.set(m.ids().connections_open, {}, 7);
  EXPECT_EQ(line_of(m.exposition(), "spfgate_connections_open"), "spfgate_connections_open 7");
}
