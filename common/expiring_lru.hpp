// common/expiring_lru.hpp: a map bounded in size (least recently used first out) whose entries expire.
//
//   ExpiringLru<Outcome> cache(10000);
//   if (Outcome* hit = cache.find(key, now)) use(*hit);
//   else cache.store(key, compute(), now + ttl);
//
// The one cache shape of the policy layer: the per-message answers (policy/message_cache.hpp), and the
// results of check_host() and of the iprev lookup that the checks reuse while their DNS data is valid.
// An entry is found until its expiry time (inclusive), then dropped when it is next looked up; storing a
// key that is present replaces its value and expiry. max_entries 0 keeps nothing.
// Each key is held once, in its entry; the index refers to it (a list entry never moves).
// Not thread-safe: one worker's caches are its thread's alone, and MessageCache locks around it.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace spfgate {

template <class Value, class Clock = std::chrono::steady_clock>
class ExpiringLru {
 public:
  using time_point = typename Clock::time_point;

  explicit ExpiringLru(std::size_t max_entries) : max_entries_(max_entries) {}

  // The value stored for `key`, or nullptr (also when it expired before `now`).
  Value* find(const std::string& key, time_point now) {
    auto it = index_.find(std::string_view(key));
    if (it == index_.end()) return nullptr;
    if (now > it->second->expires) {
      const auto entry = it->second;
      index_.erase(it);  // first: its key is the entry's
      entries_.erase(entry);
      return nullptr;
    }
    entries_.splice(entries_.begin(), entries_, it->second);
    return &it->second->value;
  }

  void store(const std::string& key, Value value, time_point expires) {
    if (max_entries_ == 0) return;
    // The entry goes in first, so that the index can refer to its key: one lookup, new key or not.
    entries_.push_front(Entry{key, std::move(value), expires});
    const auto [it, inserted] = index_.try_emplace(std::string_view(entries_.front().key), entries_.begin());
    if (!inserted) {
      // Present already (rare: the callers store after a miss): the old entry takes the new value.
      const auto old = it->second;
      old->value = std::move(entries_.front().value);
      old->expires = expires;
      entries_.pop_front();
      entries_.splice(entries_.begin(), entries_, old);
      return;
    }
    while (index_.size() > max_entries_) {
      index_.erase(std::string_view(entries_.back().key));
      entries_.pop_back();
    }
  }

  std::size_t size() const noexcept { return index_.size(); }
  std::size_t max_entries() const noexcept { return max_entries_; }
  void clear() {
    entries_.clear();
    index_.clear();
  }

 private:
  struct Entry {
    std::string key;
    Value value;
    time_point expires;
  };
  using Entries = std::list<Entry>;  // most recently used first

  std::size_t max_entries_;
  Entries entries_;
  std::unordered_map<std::string_view, typename Entries::iterator> index_;  // keys: the entries' own
};

}  // namespace spfgate
