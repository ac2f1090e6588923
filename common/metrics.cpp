#include "common/metrics.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace spfgate {

Metrics& metrics() {
  static Metrics instance;
  return instance;
}

namespace {

std::atomic<std::uint64_t> next_registry_serial{1};

}  // namespace

Metrics::Metrics() : serial_(next_registry_serial.fetch_add(1, std::memory_order_relaxed)) {
  using T = Type;
  ids_.requests = family("spfgate_requests_total", T::Counter, "Policy requests received.", {});
  ids_.answers = family("spfgate_answers_total", T::Counter, "Answers sent, by action.", {"action"});
  ids_.check_results = family("spfgate_check_results_total", T::Counter,
                              "Results of each check, by identity where there is one (spf: helo, mailfrom).",
                              {"check", "identity", "result"});
  ids_.dns_queries = family("spfgate_dns_queries_total", T::Counter, "DNS queries by outcome and DNSSEC state.",
                            {"status", "dnssec"});
  ids_.dns_cache = family("spfgate_dns_cache_total", T::Counter, "DNS answers served by the in-process cache.",
                          {"outcome"});
  ids_.result_cache = family("spfgate_result_cache_total", T::Counter,
                             "Lookups in the SPF and iprev result caches (result-cache-entries), by cache and outcome.",
                             {"cache", "outcome"});
  ids_.connections_open = family("spfgate_connections_open", T::Gauge, "Policy connections open now.", {});
  ids_.connections = family("spfgate_connections_total", T::Counter, "Policy connections accepted.", {});
  ids_.limit_hits = family("spfgate_limit_hits_total", T::Counter, "Requests or connections that hit a limit.",
                           {"limit"});
  ids_.reloads = family("spfgate_reloads_total", T::Counter, "Configuration reloads (SIGHUP).", {"result"});
  ids_.message_cache_entries =
      family("spfgate_message_cache_entries", T::Gauge, "Messages in the per-message cache.", {});
  ids_.build_info = family("spfgate_build_info", T::Gauge, "Version of the running spfgate.", {"version"});
  set(ids_.build_info, {SPFGATE_VERSION}, 1);
  start_time_ = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::size_t Metrics::family(std::string name, Type type, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(shards_mutex_);
  families_.push_back(Family{std::move(name), std::move(help), type, std::move(labels)});
  for (auto& shard : shards_) {
    std::lock_guard shard_lock(shard->mutex);
    shard->series.resize(families_.size());
  }
  return families_.size() - 1;
}

Metrics::Shard& Metrics::local() {
  // The last registry this thread used, and its shard there: one comparison on the request path.
  thread_local std::uint64_t cached_serial = 0;
  thread_local Shard* cached = nullptr;
  if (cached_serial == serial_) return *cached;
  std::lock_guard lock(shards_mutex_);
  const auto me = std::this_thread::get_id();
  Shard* shard = nullptr;
  for (auto& s : shards_)
    if (s->owner == me) shard = s.get();
  if (!shard) {
    shards_.push_back(std::make_unique<Shard>());
    shard = shards_.back().get();
    shard->owner = me;
    shard->series.resize(families_.size());
  }
  cached_serial = serial_;
  cached = shard;
  return *shard;
}

void Metrics::append_key(std::string& key, std::initializer_list<std::string_view> values) {
  for (std::string_view v : values) {
    key.append(v);
    key.push_back('\x1f');
  }
}

double* Metrics::slot(Shard& shard, std::size_t id, std::initializer_list<std::string_view> values) {
  if (id >= shard.series.size()) return nullptr;
  ShardSeries& series = shard.series[id];
  shard.key.clear();
  append_key(shard.key, values);
  auto it = series.find(shard.key);
  if (it != series.end()) return &it->second;
  // Families never change once registered; the constructor registers them all before any use.
  if (values.size() != families_[id].labels.size() || series.size() >= kMaxSeriesPerFamily) return nullptr;
  return &series.emplace(shard.key, 0.0).first->second;
}

void Metrics::add(std::size_t id, std::initializer_list<std::string_view> values, double by) {
  Shard& shard = local();
  std::lock_guard lock(shard.mutex);
  if (double* s = slot(shard, id, values)) *s += by;
}

void Metrics::set(std::size_t id, std::initializer_list<std::string_view> values, double value) {
  Shard& shard = local();
  std::lock_guard lock(shard.mutex);
  if (double* s = slot(shard, id, values)) *s = value;
}

void Metrics::observe_request(double seconds) {
  Shard& shard = local();
  std::lock_guard lock(shard.mutex);
  shard.requests.observe(seconds);
}

void Metrics::observe_dns(double seconds) {
  Shard& shard = local();
  std::lock_guard lock(shard.mutex);
  shard.dns.observe(seconds);
}

Metrics::Totals Metrics::totals() const {
  std::lock_guard lock(shards_mutex_);
  Totals t;
  t.series.resize(families_.size());
  for (const auto& shard : shards_) {
    std::lock_guard shard_lock(shard->mutex);
    for (std::size_t f = 0; f < shard->series.size() && f < t.series.size(); ++f)
      for (const auto& [key, value] : shard->series[f]) t.series[f][key] += value;
    t.requests.merge(shard->requests);
    t.dns.merge(shard->dns);
  }
  return t;
}

double Metrics::Totals::value(std::size_t id, std::initializer_list<std::string_view> values) const {
  std::string key;
  append_key(key, values);
  auto it = series[id].find(key);
  return it == series[id].end() ? 0.0 : it->second;
}

double Metrics::Totals::sum(std::size_t id) const {
  double total = 0;
  for (const auto& [key, v] : series[id]) total += v;
  return total;
}

// Not on the request path (tests, tools): adds every shard up, then looks.
double Metrics::get(std::size_t id, std::initializer_list<std::string_view> values) const {
  return totals().value(id, values);
}

// One increment per observation (it is on the path of every DNS answer): buckets[i] counts the
// observations whose first bound is kBuckets[i]; expose() adds them up into Prometheus' cumulative form.
void Metrics::Histogram::observe(double seconds) {
  ++count;
  sum += seconds;
  const auto at = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds);
  if (at != kBuckets.end()) ++buckets[static_cast<std::size_t>(at - kBuckets.begin())];
}

void Metrics::Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  count += other.count;
  sum += other.sum;
}

namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Prometheus label values: backslash, double quote and line feed escaped; we also sanitise.
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : sanitize(v, 200)) {
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string Metrics::exposition() const {
  const Totals t = totals();
  std::string out;
  out.reserve(4096);
  for (std::size_t id = 0; id < families_.size(); ++id) {
    const Family& f = families_[id];
    out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + (f.type == Type::Counter ? " counter\n" : " gauge\n");
    if (t.series[id].empty() && f.labels.empty()) out += f.name + " 0\n";
    for (const auto& [key, value] : t.series[id]) {
      out += f.name;
      if (!f.labels.empty()) {
        out += '{';
        std::size_t start = 0;
        for (std::size_t i = 0; i < f.labels.size(); ++i) {
          const std::size_t end = key.find('\x1f', start);
          if (i) out += ',';
          out += f.labels[i] + "=\"" + label_value(std::string_view(key).substr(start, end - start)) + "\"";
          start = end + 1;
        }
        out += '}';
      }
      out += " " + number(value) + "\n";
    }
  }
  t.requests.expose(out, "spfgate_request_duration_seconds", "Time from a complete request to its answer.");
  t.dns.expose(out, "spfgate_dns_query_duration_seconds",
               "Time from a check's DNS question to its answer (from the in-process cache or not).");
  out += "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
         "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds " + number(start_time_) + "\n";
  return out;
}

void Metrics::Histogram::expose(std::string& out, std::string_view name, std::string_view help) const {
  const std::string n(name);
  out += "# HELP " + n + " " + std::string(help) + "\n# TYPE " + n + " histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets[i];
    out += n + "_bucket{le=\"" + number(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += n + "_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
  out += n + "_sum " + number(sum) + "\n";
  out += n + "_count " + std::to_string(count) + "\n";
}

std::string Metrics::summary() const {
  const Totals t = totals();
  const auto get = [&t](std::size_t id, std::initializer_list<std::string_view> values) { return t.value(id, values); };
  const auto add_up = [&t](std::size_t id) { return t.sum(id); };
  std::string out = "requests=" + number(get(ids_.requests, {}));
  for (const char* action : {"dunno", "prepend", "accept", "reject", "defer", "defer_if_permit", "malformed"})
    if (double v = get(ids_.answers, {action})) out += std::string(" ") + action + "=" + number(v);
  out += " dns_queries=" + number(add_up(ids_.dns_queries));
  if (double hits = get(ids_.dns_cache, {"hit"})) out += " dns_cache_hits=" + number(hits);
  const double results = get(ids_.result_cache, {"spf", "hit"}) + get(ids_.result_cache, {"iprev", "hit"});
  if (results) out += " result_cache_hits=" + number(results);
  out += " connections_open=" + number(get(ids_.connections_open, {}));
  if (double limits = add_up(ids_.limit_hits)) out += " limit_hits=" + number(limits);
  if (t.requests.count) out += " mean_ms=" + number(std::round(t.requests.sum / t.requests.count * 1e5) / 100);
  return out;
}

}  // namespace spfgate
