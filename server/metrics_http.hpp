// server/metrics_http.hpp: the Prometheus endpoint (--metrics tcp:127.0.0.1:9153).
//
//   auto close = start_metrics_http(io, spec, [&] { return metrics().exposition(); });
//
// A small HTTP/1.1 server (Boost.Beast, one coroutine per connection): GET /metrics answers the text
// exposition format (text/plain; version=0.0.4), GET / a pointer to it, anything else 404/405. Each
// connection must send its request within 10 s; at most kMaxMetricsConnections at once (scrapers are few);
// request bodies are refused. Bind it to loopback or protect it: it reveals traffic figures.
// Failure: throws std::runtime_error when it cannot listen. Returns a function that stops the listener.
#pragma once

#include "server/listen_spec.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <string>

namespace spfgate::server {

inline constexpr std::size_t kMaxMetricsConnections = 16;

std::function<void()> start_metrics_http(boost::asio::io_context& io, const ListenSpec& spec,
                                         std::function<std::string()> body);

}  // namespace spfgate::server
