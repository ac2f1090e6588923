// common/metrics.hpp: counters, gauges and two latency histograms, exposed in Prometheus text format.
//
//   auto& m = metrics();
//   m.add(m.ids().answers, {"reject"});                    // spfgate_answers_total{action="reject"} += 1
//   m.observe_request(0.0021);                             // spfgate_request_duration_seconds
//   m.observe_dns(0.0004);                                 // spfgate_dns_query_duration_seconds
//   std::string body = m.exposition();                     // for GET /metrics
//
// One process-wide registry, safe to use from any thread (the daemon's worker threads, `threads`). Each
// thread counts into a shard of its own (locked by that thread alone, so never contended on the request
// path); exposition() and summary() add the shards up. A gauge is set from one thread only (the main one),
// so adding up its shards gives its value.
// Families are registered once, here, with their help text and label names; a series is created the
// first time a label combination is used. Label values are sanitised; their number per family is bounded
// (kMaxSeriesPerFamily) so a stream of odd values cannot grow memory without end.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
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
  void observe_request(double seconds);
  void observe_dns(double seconds);

  std::string exposition() const;
  // "requests=12 dunno=3 prepend=8 reject=1 ...": the periodic summary log line.
  std::string summary() const;

 private:
  using Series = std::map<std::string, double, std::less<>>;  // key: label values joined by '\x1f'
  // A thread's own series are hashed (a handful of updates on every request); the totals, which are
  // printed, stay sorted.
  using ShardSeries = std::unordered_map<std::string, double>;
  struct Family {
    std::string name, help;
    Type type;
    std::vector<std::string> labels;
  };
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};  // per bucket, not cumulative (see observe())
    std::uint64_t count = 0;
    double sum = 0;
    void observe(double seconds);
    void merge(const Histogram& other);
    void expose(std::string& out, std::string_view name, std::string_view help) const;
  };
  // One thread's counts.
  struct Shard {
    std::thread::id owner;
    std::mutex mutex;  // taken by its thread for every update, and by a reader adding the shards up
    std::vector<ShardSeries> series;  // per family
    Histogram requests, dns;
    std::string key;  // reused buffer: no allocation per increment once warm
  };
  // Every shard added up.
  struct Totals {
    std::vector<Series> series;
    Histogram requests, dns;
    double value(std::size_t family, std::initializer_list<std::string_view> values) const;
    double sum(std::size_t family) const;  // of all its series
  };
  // The series key of `values`: each followed by '\x1f'.
  static void append_key(std::string& key, std::initializer_list<std::string_view> values);

  Shard& local();
  Totals totals() const;
  // The caller holds shard.mutex.
  double* slot(Shard& shard, std::size_t family, std::initializer_list<std::string_view> values);

  const std::uint64_t serial_;  // tells this registry from others in the per-thread lookup
  std::vector<Family> families_;
  Ids ids_{};
  mutable std::mutex shards_mutex_;  // guards shards_ and families_
  std::vector<std::unique_ptr<Shard>> shards_;
  double start_time_ = 0;
};

Metrics& metrics();

}  // namespace spfgate
