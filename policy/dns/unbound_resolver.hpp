// policy/dns/unbound_resolver.hpp: the Resolver of production, libunbound's validating resolver driven
// asynchronously from an Asio io_context.
//
//   dns::UnboundOptions opt;                       // full recursion from the root, DNSSEC validation on
//   opt.config_file = "/etc/spfgate/unbound.conf"; // optional: stub zones, anchors, cache sizes ...
//   dns::UnboundResolver resolver(io.get_executor(), opt);        // throws std::runtime_error if bad
//   DnsAnswer a = co_await resolver.query("example.com", RrType::TXT, deadline);
//   resolver.async_query("example.com", RrType::MX, deadline, [](DnsAnswer a) { ... });  // any token
//
// How: one libunbound context (one cache, shared by every caller) in threaded async mode
// (ub_ctx_async(ctx, 1): libunbound resolves on its own background thread and would otherwise fork).
// ub_resolve_async() starts a query; the context's ub_fd() is watched with a posix::stream_descriptor and
// drained with ub_process() whenever it is readable, so no thread ever blocks waiting for an answer. All of
// that runs on a strand of the given executor; each completion is posted to the caller's executor, never
// run inline. Each query completes exactly once: with the answer, with Timeout at min(now +
// query_timeout, deadline) (the query is then ub_cancel()ed; a lost race with the answer is detected), with
// Timeout "cancelled" when the caller's cancellation slot fires (asio per-operation cancellation, e.g.
// awaitable operator ||), or with Error "resolver shut down" when the resolver is destroyed first.
// Results map to DnsAnswer as unbound_result.hpp says (bogus answers carry no data).
// Large answers: libunbound asks over UDP with an EDNS buffer of 1232 octets (edns-buffer-size) and, when a
// server sets TC because the answer does not fit, asks again over TCP itself; so a TXT RRset of any size
// up to 64 KiB arrives whole (tests: big.example.test, 1945 octets, and trunc.test, TC on every UDP answer).
//
// Options are applied in this order, so later ones win: cache sizes, config_file (ub_ctx_config),
// validation (off: module-config "iterator"), trust_anchor_file, forwarders, extra_options. All are applied
// and the context is finalized in the constructor, so a bad option, file or trust anchor throws there.
//
// Failure: the constructor throws std::runtime_error with libunbound's message (details of a failed
// initialization are on stderr, where libunbound logs). query() never throws for DNS outcomes.
// At most max_outstanding queries are with libunbound at a time (and their pipe messages stay under 32 KiB,
// so ub_resolve_async()'s blocking pipe write never waits); the rest wait in FIFO order, their deadlines
// running. A query cancelled in libunbound leaves the window at once, although libunbound's thread keeps
// resolving it to the end (ub_cancel only drops the callback in threaded mode).
//
// Limits: destroy the resolver on its executor's thread (or with the io_context stopped); queries still
// in flight then complete with Error. Only class IN.
#pragma once

#include "policy/dns/resolver.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::dns {

struct UnboundOptions {
  // Debian's dns-root-data: the root zone's KSK as a read-only key file (not an RFC 5011 state file).
  static constexpr std::string_view kDefaultTrustAnchorFile = "/usr/share/dns/root.key";
  // Per-query limit when the caller's deadline is later. RFC 7208 §4.6.4 lets a whole SPF evaluation take
  // at least 20 s; no single lookup should be able to use all of it.
  static constexpr std::chrono::milliseconds kDefaultQueryTimeout{10'000};
  // Bounded caches (unbound's own defaults are 4m and 4m; the RRset cache holds more than the message
  // cache, so it gets twice as much).
  static constexpr std::size_t kDefaultMsgCacheBytes = 4 * 1024 * 1024;
  static constexpr std::size_t kDefaultRrsetCacheBytes = 8 * 1024 * 1024;
  // Queries handed to libunbound at once; more wait (FIFO, under their own deadlines) for a free place.
  // Well under libunbound's num-queries-per-thread (1024), so it never drops or jostles our queries, and a
  // bound on the blocking pipe writes of ub_resolve_async() (see unbound_resolver.cpp).
  static constexpr std::size_t kDefaultMaxOutstanding = 256;

  // Empty: full recursion from the root servers. Otherwise forward every query to these resolvers
  // ("192.0.2.53", "2001:db8::53", "127.0.0.1@5353"), through ub_ctx_set_fwd().
  std::vector<std::string> forwarders;
  // An unbound.conf-style file for ub_ctx_config() (stub zones, trust anchors, cache and other limits).
  std::string config_file;
  // Added with ub_ctx_add_ta_file() unless empty (use "" when config_file brings its own anchors).
  std::string trust_anchor_file{kDefaultTrustAnchorFile};
  // false: no DNSSEC validation at all (module-config "iterator"); every answer is Insecure. The caller
  // logs that it was turned off.
  bool validate = true;
  std::chrono::milliseconds query_timeout = kDefaultQueryTimeout;
  std::size_t msg_cache_bytes = kDefaultMsgCacheBytes;
  std::size_t rrset_cache_bytes = kDefaultRrsetCacheBytes;
  std::size_t max_outstanding = kDefaultMaxOutstanding;
  // "name: value" lines for ub_ctx_set_option(), applied last. Note: "local-zone: <zone> nodefault" is
  // silently ignored through this call in libunbound 1.17; put it in config_file instead.
  std::vector<std::string> extra_options;
};

class UnboundResolver final : public Resolver {
 public:
  UnboundResolver(boost::asio::any_io_executor executor, UnboundOptions options);
  ~UnboundResolver() override;
  UnboundResolver(const UnboundResolver&) = delete;
  UnboundResolver& operator=(const UnboundResolver&) = delete;

  boost::asio::awaitable<DnsAnswer> query(std::string name, RrType type, Deadline deadline) override;

  // The same query with any completion token (callback, use_awaitable, deferred, use_future, ...);
  // completion signature void(DnsAnswer).
  template <typename CompletionToken>
  auto async_query(std::string name, RrType type, Deadline deadline, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(DnsAnswer)>(
        [this](boost::asio::any_completion_handler<void(DnsAnswer)> handler, std::string n, RrType t,
               Deadline d) { start(std::move(n), t, d, std::move(handler)); },
        token, std::move(name), type, deadline);
  }

  // Queries started and not yet completed.
  std::size_t in_flight() const noexcept;
  const UnboundOptions& options() const noexcept;

 private:
  class Impl;
  void start(std::string name, RrType type, Deadline deadline,
             boost::asio::any_completion_handler<void(DnsAnswer)> handler);

  std::shared_ptr<Impl> impl_;
};

}  // namespace spfgate::dns
