// policy/pipeline.hpp: runs the checks of one configuration over a request.
//
//   Pipeline p(make_checks(settings, files));
//   std::vector<Verdict> v = co_await p.run(request, context);   // in precedence order
//
// Checks are kept in precedence order (Stage, then the order they were registered in). Local checks (no
// DNS) run first, one after the other; a final verdict ends them and cuts off every later stage. Then all
// remaining DNS checks of earlier-or-equal stages run concurrently on the context's resolver and deadline. The result
// holds one verdict per check that ran, in precedence order, whatever order they completed in.
#pragma once

#include "policy/check.hpp"

#include <memory>
#include <vector>

namespace spfgate::policy {

class Pipeline {
 public:
  explicit Pipeline(std::vector<std::unique_ptr<Check>> checks);
  boost::asio::awaitable<std::vector<Verdict>> run(const PolicyRequest& request, CheckContext& context) const;
  const std::vector<std::unique_ptr<Check>>& checks() const noexcept { return checks_; }

 private:
  std::vector<std::unique_ptr<Check>> checks_;
};

}  // namespace spfgate::policy
