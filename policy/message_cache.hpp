// policy/message_cache.hpp: what was answered for each message (Postfix's `instance`), so that later
// requests of the same message get a consistent answer.
//
//   if (auto* e = cache.find(instance, now)) { ...repeat or continue... } else { ... cache.store(...) }
//
// Postfix calls the policy once per RCPT (and maybe at DATA); a header must be prepended once per message,
// and a reject or defer must be repeated for every recipient with the same text (pypolicyd-spf turned a
// repeated 5.7.24 into 5.7.23; we repeat the exact action). Unlike pypolicyd-spf's dictionary, which
// grows for the life of the process, this cache is bounded in size (least recently used entries go
// first) and in age.
// Thread-safe: one cache serves every worker thread (`threads`), so that a message whose requests come
// over two connections (Postfix reconnects after smtpd_policy_service_max_ttl) is still answered as one.
#pragma once

#include "common/expiring_lru.hpp"
#include "policy/decision.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace spfgate::policy {

struct CachedMessage {
  DecisionKind kind = DecisionKind::Dunno;
  std::string action;                  // repeated for Reject/Defer/DeferIfPermit/Accept (empty otherwise)
  std::vector<std::string> pending_headers;  // still to be prepended, one per later request, in order
  std::chrono::steady_clock::time_point created;
};

class MessageCache {
 public:
  // A message's requests come within minutes; an hour bounds even a very slow session.
  static constexpr std::size_t kDefaultMaxEntries = 20000;
  static constexpr std::chrono::seconds kDefaultMaxAge{3600};

  explicit MessageCache(std::size_t max_entries = kDefaultMaxEntries,
                        std::chrono::seconds max_age = kDefaultMaxAge)
      : entries_(max_entries), max_age_(max_age) {}

  // Returns visit(entry), where entry is the one for `instance`, or nullptr (also when it is older than
  // max_age). The cache stays locked while `visit` runs, so it may change the entry but must not wait.
  template <class Visit>
  auto visit(const std::string& instance, std::chrono::steady_clock::time_point now, Visit&& visit) {
    std::lock_guard lock(mutex_);
    return visit(entries_.find(instance, now));
  }
  // Kept until max_age after entry.created.
  void store(const std::string& instance, CachedMessage entry) {
    const auto expires = entry.created + max_age_;
    std::lock_guard lock(mutex_);
    entries_.store(instance, std::move(entry), expires);
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }
  void clear() {
    std::lock_guard lock(mutex_);
    entries_.clear();
  }

 private:
  mutable std::mutex mutex_;
  ExpiringLru<CachedMessage> entries_;
  std::chrono::seconds max_age_;
};

}  // namespace spfgate::policy
