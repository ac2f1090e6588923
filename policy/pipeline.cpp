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
  Progress progress;
  if (!start(request, context, progress)) co_await finish(request, context, progress);
  co_return verdicts(progress);
}

// 1. Local checks, in order, until a final verdict (like a Postfix restriction list: OK or REJECT in one
//    helo_access table ends the search, later tables are not consulted).
bool Pipeline::start(const PolicyRequest& request, CheckContext& context, Progress& p) const {
  p.slots.assign(checks_.size(), std::nullopt);
  for (; p.next_local < checks_.size(); ++p.next_local) {
    const Check& c = *checks_[p.next_local];
    if (c.needs_dns()) continue;
    // Straight into its slot: a Verdict is some 250 bytes of strings and vectors, each move copies them.
    p.slots[p.next_local] = c.evaluate_now(request, context);
    if (!p.slots[p.next_local]) return false;  // a local check that must wait: finish() goes on from it
    if (ends_search(p, p.next_local)) break;
  }
  plan_dns(request, context, p);
  return p.waiting.empty();
}

asio::awaitable<void> Pipeline::finish(const PolicyRequest& request, CheckContext& context, Progress& p) const {
  if (!p.local_done) {
    for (; p.next_local < checks_.size(); ++p.next_local) {
      const Check& c = *checks_[p.next_local];
      if (c.needs_dns()) continue;
      p.slots[p.next_local] = co_await c.evaluate(request, context);
      if (ends_search(p, p.next_local)) break;
    }
    plan_dns(request, context, p);
  }
  if (p.waiting.empty()) co_return;
  std::vector<asio::awaitable<Verdict>> tasks;
  tasks.reserve(p.waiting.size());
  for (std::size_t i : p.waiting) tasks.push_back(checks_[i]->evaluate(request, context));
  auto results = co_await gather(std::move(tasks));
  for (std::size_t k = 0; k < p.waiting.size(); ++k) p.slots[p.waiting[k]] = std::move(results[k]);
  p.waiting.clear();
}

// True when the verdict in slot i ends the local checks (a final verdict, or a bypass).
bool Pipeline::ends_search(Progress& p, std::size_t i) const {
  if (!p.slots[i]->final && p.slots[i]->kind != VerdictKind::Bypass) return false;
  p.cutoff = checks_[i]->stage();
  p.cut = true;
  return true;
}

// 2. DNS checks of the stages still relevant: those whose cached results suffice answer right away
//    (evaluate_now), without a coroutine of their own; the others wait for finish(), all at once.
void Pipeline::plan_dns(const PolicyRequest& request, CheckContext& context, Progress& p) const {
  p.local_done = true;
  const bool bypassed = std::any_of(p.slots.begin(), p.slots.end(),
                                    [](const auto& s) { return s && s->kind == VerdictKind::Bypass; });
  if (bypassed) return;
  for (std::size_t i = 0; i < checks_.size(); ++i) {
    const Check& c = *checks_[i];
    if (!c.needs_dns() || (p.cut && c.stage() > p.cutoff)) continue;
    if ((p.slots[i] = c.evaluate_now(request, context))) continue;
    p.waiting.push_back(i);
  }
}

std::vector<Verdict> Pipeline::verdicts(Progress& p) {
  std::vector<Verdict> out;
  out.reserve(p.slots.size());
  for (auto& s : p.slots)
    if (s) out.push_back(std::move(*s));
  return out;
}

}  // namespace spfgate::policy
