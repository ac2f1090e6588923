// common/metrics: the Prometheus exposition of counters and of the latency histograms.
#include "common/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

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
