#include "policy/pipeline.hpp"

#include "common/async.hpp"

#include <algorithm>

namespace spfgate::policy {

namespace asio = boost::asio;

std::string_view to_string(Stage stage) noexcept {
  switch (stage) {
    case Stage::Bypass: return "bypass";
    case Stage::HeloAccess: return "helo_access";
    case Stage::HeloSanity: return "helo";
    case Stage::Iprev: return "iprev";
    case Stage::Spf: return "spf";
  }
  return "?";
}

Pipeline::Pipeline(std::vector<std::unique_ptr<Check>> checks) : checks_(std::move(checks)) {
  std::stable_sort(checks_.begin(), checks_.end(),
                   [](const auto& a, const auto& b) { return a->stage() < b->stage(); });
}

asio::awaitable<std::vector<Verdict>> Pipeline::run(const PolicyRequest& request, CheckContext& context) const {
  std::vector<std::optional<Verdict>> slots(checks_.size());
  // 1. Local checks, in order, until a final verdict (like a Postfix restriction list: OK or REJECT in
  //    one helo_access table ends the search, later tables are not consulted).
  bool cut = false;
  Stage cutoff = Stage::Spf;
  for (std::size_t i = 0; i < checks_.size(); ++i) {
    const Check& c = *checks_[i];
    if (c.needs_dns()) continue;
    slots[i] = co_await c.evaluate(request, context);
    if (slots[i]->final || slots[i]->kind == VerdictKind::Bypass) {
      cutoff = c.stage();
      cut = true;
      break;
    }
  }
  const bool bypassed = std::any_of(slots.begin(), slots.end(),
                                    [](const auto& s) { return s && s->kind == VerdictKind::Bypass; });
  // 2. DNS checks of the stages still relevant, all at once; those whose cached results suffice answer
  //    right away (evaluate_now), without a coroutine of their own.
  if (!bypassed) {
    std::vector<std::size_t> index;
    std::vector<asio::awaitable<Verdict>> tasks;
    for (std::size_t i = 0; i < checks_.size(); ++i) {
      const Check& c = *checks_[i];
      if (!c.needs_dns() || (cut && c.stage() > cutoff)) continue;
      if ((slots[i] = c.evaluate_now(request, context))) continue;
      index.push_back(i);
      tasks.push_back(c.evaluate(request, context));
    }
    if (!tasks.empty()) {
      auto results = co_await gather(std::move(tasks));
      for (std::size_t k = 0; k < index.size(); ++k) slots[index[k]] = std::move(results[k]);
    }
  }
  std::vector<Verdict> out;
  out.reserve(slots.size());
  for (auto& s : slots)
    if (s) out.push_back(std::move(*s));
  co_return out;
}

}  // namespace spfgate::policy
