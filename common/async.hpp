// common/async.hpp: small coroutine helpers for running lookups concurrently on one io_context.
//
//   std::vector<asio::awaitable<int>> tasks; ...
//   std::vector<int> results = co_await gather(std::move(tasks));   // all run concurrently, results in
//                                                                   // the order of `tasks`
//   SharedResult<Iprev> iprev([&] { return compute_iprev(); });     // computed once, on first get()
//   Iprev a = co_await iprev.get();  Iprev b = co_await iprev.get(); // the second waits for the first
//
// Both assume a single-threaded io_context (the daemon's design): no locking.
// Failure: gather() rethrows the first exception of a task after all tasks finished; SharedResult
// rethrows the producer's exception to every waiter.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <vector>

namespace spfgate {

template <class T>
boost::asio::awaitable<std::vector<T>> gather(std::vector<boost::asio::awaitable<T>> tasks) {
  namespace asio = boost::asio;
  if (tasks.empty()) co_return std::vector<T>{};
  if (tasks.size() == 1) {
    std::vector<T> one;
    one.push_back(co_await std::move(tasks.front()));
    co_return one;
  }
  auto ex = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(ex, std::move(tasks.front()), asio::deferred));
  std::vector<Op> ops;
  ops.reserve(tasks.size());
  for (auto& t : tasks) ops.push_back(asio::co_spawn(ex, std::move(t), asio::deferred));
  auto [order, errors, results] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                      .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  (void)order;
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  co_return std::move(results);
}

template <class T>
class SharedResult {
 public:
  using Producer = std::function<boost::asio::awaitable<T>()>;
  explicit SharedResult(Producer producer) : producer_(std::move(producer)) {}
  SharedResult(const SharedResult&) = delete;
  SharedResult& operator=(const SharedResult&) = delete;

  bool ready() const noexcept { return value_.has_value() || error_; }
  bool started() const noexcept { return started_; }

  boost::asio::awaitable<T> get() {
    namespace asio = boost::asio;
    if (!started_) {
      started_ = true;
      try {
        value_.emplace(co_await producer_());
      } catch (...) {
        error_ = std::current_exception();
      }
      if (timer_) timer_->cancel();
    } else if (!ready()) {
      if (!timer_) timer_.emplace(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      while (!ready()) co_await timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (error_) std::rethrow_exception(error_);
    co_return *value_;
  }

 private:
  Producer producer_;
  bool started_ = false;
  std::optional<T> value_;
  std::exception_ptr error_;
  std::optional<boost::asio::steady_timer> timer_;
};

}  // namespace spfgate
