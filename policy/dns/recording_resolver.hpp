// policy/dns/recording_resolver.hpp: a Resolver that passes questions on and remembers how long the
// answers it saw stay valid.
//
//   RecordingResolver recorded(resolver);
//   Result r = co_await compute(recorded);                 // any number of queries
//   if (recorded.reusable()) keep(r, recorded.min_ttl());  // valid as long as its shortest-lived answer
//
// For caches of results computed from several answers (policy/spf/outcome_cache.hpp): such a result is as
// old as its oldest input. A temporary answer (SERVFAIL, timeout, bogus, error) makes the result not
// reusable, whatever the computation made of it: the next question may get a real answer. One computation
// per object; single-threaded.
#pragma once

#include "policy/dns/resolver.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

namespace spfgate::dns {

class RecordingResolver final : public Resolver {
 public:
  explicit RecordingResolver(Resolver& inner) : inner_(inner) {}

  boost::asio::awaitable<DnsAnswer> query(std::string name, RrType type, Deadline deadline) override {
    DnsAnswer answer = co_await inner_.query(std::move(name), type, deadline);
    ++answers_;
    if (answer.is_temporary()) temporary_ = true;
    min_ttl_ = std::min(min_ttl_, answer.ttl);
    co_return answer;
  }

  // The smallest TTL of the answers seen (0 when none was seen: nothing says how long a result is valid).
  std::uint32_t min_ttl() const noexcept { return answers_ == 0 ? 0 : min_ttl_; }
  bool saw_temporary() const noexcept { return temporary_; }
  // Worth keeping: at least one answer, none temporary, none with TTL 0.
  bool reusable() const noexcept { return !temporary_ && min_ttl() > 0; }

 private:
  Resolver& inner_;
  unsigned answers_ = 0;
  bool temporary_ = false;
  std::uint32_t min_ttl_ = std::numeric_limits<std::uint32_t>::max();
};

}  // namespace spfgate::dns
