#include "policy/message_cache.hpp"

namespace spfgate::policy {

CachedMessage* MessageCache::find(const std::string& instance, std::chrono::steady_clock::time_point now) {
  auto it = index_.find(instance);
  if (it == index_.end()) return nullptr;
  if (now - it->second->second.created > max_age_) {
    entries_.erase(it->second);
    index_.erase(it);
    return nullptr;
  }
  entries_.splice(entries_.begin(), entries_, it->second);
  return &it->second->second;
}

void MessageCache::store(const std::string& instance, CachedMessage entry) {
  if (max_entries_ == 0) return;
  if (auto it = index_.find(instance); it != index_.end()) {
    it->second->second = std::move(entry);
    entries_.splice(entries_.begin(), entries_, it->second);
    return;
  }
  entries_.emplace_front(instance, std::move(entry));
  index_.emplace(instance, entries_.begin());
  while (index_.size() > max_entries_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

void MessageCache::clear() {
  entries_.clear();
  index_.clear();
}

}  // namespace spfgate::policy
