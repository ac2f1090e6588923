// policy/pipeline.hpp: runs the checks of one configuration over a request.
//
//   Pipeline p(make_checks(settings, files));
//   std::vector<Verdict> v = co_await p.run(request, context);   // in precedence order
//
// Checks are kept in precedence order (Stage, then the order they were registered in). Local checks (no
// DNS) run first, one after the other; a final verdict ends them and cuts off every later stage. Then all
// remaining DNS checks of earlier-or-equal stages run concurrently on the context's resolver and deadline. The result
// holds one verdict per check that ran, in precedence order, whatever order they completed in.
//
// In two parts, for the server's warm path (policy/engine.hpp):
//   Pipeline::Progress p;
//   if (!pipeline.start(request, context, p)) co_await pipeline.finish(request, context, p);
//   std::vector<Verdict> v = Pipeline::verdicts(p);
// start() runs what needs no waiting: the local checks, and every DNS check whose results are cached
// (evaluate_now()); it returns true when that was all, so a warm request starts no coroutine at all.
// finish() runs the rest. run() is the two together.
#pragma once

#include "policy/check.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace spfgate::policy {

class Pipeline {
 public:
  explicit Pipeline(std::vector<std::unique_ptr<Check>> checks);
  boost::asio::awaitable<std::vector<Verdict>> run(const PolicyRequest& request, CheckContext& context) const;

  // One run between start() and finish(); a fresh one for every run.
  struct Progress {
    std::vector<std::optional<Verdict>> slots;  // by check, in precedence order
    std::size_t next_local = 0;                 // the local checks before this one have run
    bool local_done = false;
    bool cut = false;                           // a final verdict cut off the stages after `cutoff`
    Stage cutoff = Stage::Spf;
    std::vector<std::size_t> waiting;           // DNS checks that finish() must evaluate()
  };
  bool start(const PolicyRequest& request, CheckContext& context, Progress& progress) const;
  boost::asio::awaitable<void> finish(const PolicyRequest& request, CheckContext& context, Progress& progress) const;
  // The verdicts of a run that is done, taken out of it.
  static std::vector<Verdict> verdicts(Progress& progress);
  const std::vector<std::unique_ptr<Check>>& checks() const noexcept { return checks_; }

 private:
  // Whether the verdict in slot i (final, or a Bypass) ends the search: checks of later stages are cut.
  bool ends_search(Progress& progress, std::size_t i) const;
  void plan_dns(const PolicyRequest& request, CheckContext& context, Progress& progress) const;

  std::vector<std::unique_ptr<Check>> checks_;
};

}  // namespace spfgate::policy
