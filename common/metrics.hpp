// common/metrics.hpp: counters, gauges and two latency histograms, exposed in Prometheus text format.
//
//   auto& m = metrics();
//   m.add(m.ids().answers, {"reject"});                    // spfgate_answers_total{action="reject"} += 1
//   m.observe_request(0.0021);                             // spfgate_request_duration_seconds
//   m.observe_dns(0.0004);                                 // spfgate_dns_query_duration_seconds
//   std::string body = m.exposition();                     // for GET /metrics
//
// One process-wide registry, safe to use from any thread (the daemon's worker threads, `threads`): every
// call takes one mutex, held for a map lookup and an addition.
// Families are registered once, here, with their help text and label names; a series is created the
// first time a label combination is used. Label values are sanitised; their number per family is bounded
// (kMaxSeriesPerFamily) so a stream of odd values cannot grow memory without end.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate {

class Metrics {
 public:
  enum class Type { Counter, Gauge };
  static constexpr std::size_t kMaxSeriesPerFamily = 512;
  // Latency buckets (seconds), for requests and DNS answers alike: from a cached answer to a timeout.
  static constexpr std::array<double, 14> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.05,    0.1,    0.25,  0.5,   1,     5};

  struct Ids {
    std::size_t requests, answers, check_results, dns_queries, dns_cache, result_cache, connections_open,
        connections, limit_hits, reloads, message_cache_entries, build_info;
  };

  Metrics();
  const Ids& ids() const noexcept { return ids_; }

  std::size_t family(std::string name, Type type, std::string help, std::vector<std::string> labels);
  void add(std::size_t family, std::initializer_list<std::string_view> values, double by = 1);
  void set(std::size_t family, std::initializer_list<std::string_view> values, double value);
  double get(std::size_t family, std::initializer_list<std::string_view> values) const;
  void observe_request(double seconds) {
    std::lock_guard lock(mutex_);
    requests_.observe(seconds);
  }
  void observe_dns(double seconds) {
    std::lock_guard lock(mutex_);
    dns_.observe(seconds);
  }

  std::string exposition() const;
  // "requests=12 dunno=3 prepend=8 reject=1 ...": the periodic summary log line.
  std::string summary() const;

 private:
  struct Family {
    std::string name, help;
    Type type;
    std::vector<std::string> labels;
    std::map<std::string, double, std::less<>> series;  // key: label values joined by '\x1f'
  };
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};  // per bucket, not cumulative (see observe())
    std::uint64_t count = 0;
    double sum = 0;
    void observe(double seconds);
    void expose(std::string& out, std::string_view name, std::string_view help) const;
  };
  // Callers hold mutex_.
  double* slot(std::size_t family, std::initializer_list<std::string_view> values);
  double get_locked(std::size_t family, std::initializer_list<std::string_view> values) const;
  std::size_t family_locked(std::string name, Type type, std::string help, std::vector<std::string> labels);
  double add_up(std::size_t family) const;

  mutable std::mutex mutex_;

  std::vector<Family> families_;
  Ids ids_{};
  Histogram requests_, dns_;
  std::string key_;  // reused buffer: no allocation per increment once warm
  double start_time_ = 0;
};

Metrics& metrics();

}  // namespace spfgate
