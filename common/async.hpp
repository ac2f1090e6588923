// common/async.hpp: small coroutine helpers for running lookups concurrently on one io_context.
//
//   std::vector<asio::awaitable<int>> tasks; ...
//   std::vector<int> results = co_await gather(std::move(tasks));   // all run concurrently, results in
//                                                                   // the order of `tasks`
//   SharedResult<Iprev> iprev([&] { return compute_iprev(); });     // computed once, on first get()
//   Iprev a = co_await iprev.get();  Iprev b = co_await iprev.get(); // the second waits for the first
//   iprev.complete(cached);                                         // or a value known without computing it
//
// Both assume an io_context run by one thread (each of the daemon's workers runs its own): no locking.
// Failure: gather() rethrows the first exception of a task after all tasks finished; SharedResult
// rethrows the producer's exception to every waiter.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace spfgate {

namespace detail {

// What the tasks of one gather() share: their results, the first exception, and the waiting parent.
template <class T>
struct GatherState {
  explicit GatherState(std::size_t n) : results(n), left(n) {}
  std::vector<T> results;
  std::exception_ptr error;
  std::size_t left;  // tasks not finished yet
  // The parent's continuation, once it waits. Emplaced, never assigned: any_completion_handler's move
  // assignment recurses without end in Boost 1.81.
  std::optional<boost::asio::any_completion_handler<void()>> parent;
  std::optional<boost::asio::any_io_executor> executor;

  void finished() {
    if (--left != 0 || !parent) return;
    boost::asio::any_completion_handler<void()> h(std::move(*parent));
    parent.reset();
    boost::asio::post(*executor, std::move(h));
  }
};

}  // namespace detail

// Runs the tasks concurrently: the first in this coroutine, the others spawned on its executor (one
// co_spawn per extra task, no parallel_group: this is on the path of every request).
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
  auto state = std::make_shared<detail::GatherState<T>>(tasks.size());
  for (std::size_t i = 1; i < tasks.size(); ++i)
    asio::co_spawn(ex, std::move(tasks[i]), [state, i](std::exception_ptr e, T value) {
      if (e) {
        if (!state->error) state->error = e;
      } else {
        state->results[i] = std::move(value);
      }
      state->finished();
    });
  try {
    state->results[0] = co_await std::move(tasks.front());
  } catch (...) {
    if (!state->error) state->error = std::current_exception();
  }
  --state->left;
  if (state->left > 0) {
    state->executor.emplace(ex);
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
        [&state](asio::any_completion_handler<void()> handler) { state->parent.emplace(std::move(handler)); },
        asio::use_awaitable);
  }
  if (state->error) std::rethrow_exception(state->error);
  co_return std::move(state->results);
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
  // The value, once computed (null before, and after a failure).
  const T* value_if_ready() const noexcept { return value_ ? &*value_ : nullptr; }
  // Supplies the value before anyone started the producer (e.g. from a cache), which then never runs.
  void complete(T value) {
    if (started_) return;
    started_ = true;
    value_.emplace(std::move(value));
  }

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
