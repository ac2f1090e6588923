// server/stdio_stream.hpp: stdin + stdout as one asynchronous stream, for --spawn.
//
// Postfix's spawn(8) connects the child's stdin, stdout and stderr to the policy socket. Reads come from
// fd 0 and writes go to fd 1, each through an Asio descriptor (regular files and pipes work too, which
// makes hand testing with "spfgate --spawn < requests" possible). Nothing else may write to fd 1 or 2.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <unistd.h>

namespace spfgate::server {

class StdioStream {
 public:
  using executor_type = boost::asio::any_io_executor;

  StdioStream(const executor_type& ex, int in_fd, int out_fd)
      : in_(ex, ::dup(in_fd)), out_(ex, in_fd == out_fd ? ::dup(in_fd) : ::dup(out_fd)) {}

  executor_type get_executor() { return in_.get_executor(); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return in_.async_read_some(buffers, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return out_.async_write_some(buffers, std::forward<Token>(token));
  }
  void close(boost::system::error_code& ec) {
    in_.close(ec);
    out_.close(ec);
  }
  void shutdown_send() {}

 private:
  boost::asio::posix::stream_descriptor in_;
  boost::asio::posix::stream_descriptor out_;
};

}  // namespace spfgate::server
