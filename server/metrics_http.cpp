#include "server/metrics_http.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <memory>

namespace spfgate::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

struct Shared {
  std::function<std::string()> body;
  std::size_t open = 0;
};

asio::awaitable<void> serve(beast::tcp_stream stream, std::shared_ptr<Shared> shared) {
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(std::chrono::seconds(10));
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    parser.body_limit(0);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) break;
    const auto& req = parser.get();
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "spfgate/" SPFGATE_VERSION);
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    const auto target = req.target();
    if (!get) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.body() = "GET /metrics\n";
    } else if (target == "/metrics" || target.starts_with("/metrics?")) {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = shared->body();
    } else if (target == "/") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "spfgate: metrics at /metrics\n";
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "not found\n";
    }
    if (req.method() == http::verb::head) {
      res.content_length(res.body().size());
      res.body().clear();
    } else {
      res.prepare_payload();
    }
    stream.expires_after(std::chrono::seconds(10));
    auto [wec, w] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    (void)w;
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignore;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignore);
}

asio::awaitable<void> accept(std::shared_ptr<asio::ip::tcp::acceptor> acceptor, std::shared_ptr<Shared> shared) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (!acceptor->is_open()) co_return;
      continue;
    }
    if (shared->open >= kMaxMetricsConnections) {
      boost::system::error_code ignore;
      socket.close(ignore);
      continue;
    }
    ++shared->open;
    asio::co_spawn(acceptor->get_executor(), serve(beast::tcp_stream(std::move(socket)), shared),
                   [shared](std::exception_ptr) { --shared->open; });
  }
}

}  // namespace

std::function<void()> start_metrics_http(asio::io_context& io, const ListenSpec& spec, std::function<std::string()> body) {
  if (spec.kind != ListenSpec::Kind::Tcp) throw std::runtime_error("metrics: only tcp:HOST:PORT is supported");
  auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(io);
  const asio::ip::tcp::endpoint ep(asio::ip::make_address(spec.host), spec.port);
  boost::system::error_code ec;
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen for metrics on " + spec.text + ": " + ec.message());
  auto shared = std::make_shared<Shared>();
  shared->body = std::move(body);
  spdlog::info("metrics on http://{}:{}/metrics", spec.host, acceptor->local_endpoint().port());
  asio::co_spawn(io, accept(acceptor, shared), asio::detached);
  return [acceptor] {
    boost::system::error_code ignore;
    acceptor->close(ignore);
  };
}

}  // namespace spfgate::server
