// server/server.hpp: the daemon — listeners, connections, signals, reload, shutdown.
//
//   Server server(args, config::load(args), make_resolver);   // builds the Engine
//   return server.run();                                       // until SIGTERM/SIGINT or spawn EOF
//
// Concurrency model: one io_context, run by one thread. Every connection is one coroutine (plus a
// watchdog that enforces its timeouts); requests on a connection are answered in order, connections are
// served concurrently, and every DNS lookup is asynchronous, so nothing waits on anything else.
//
// Listeners: --listen unix:/tcp: (any number), systemd socket activation (LISTEN_FDS: listening sockets
// are accepted on; a connected socket from Accept=yes is served like --spawn), or --spawn (one
// connection on stdin/stdout; exit at EOF). Privileges are dropped (--user/--group) after binding.
//
// Signals: SIGHUP re-reads the configuration and the tables; a bad new configuration is logged and the old
// one kept. SIGTERM/SIGINT stop accepting, let in-flight requests finish (at most shutdown-timeout), close
// idle connections, and exit 0.
//
// Failure: the constructor and run() throw std::runtime_error / config::Error for start-up faults (cannot
// bind, bad user); nothing a peer does can throw out of run().
#pragma once

#include "config/options.hpp"
#include "policy/dns/resolver.hpp"
#include "policy/engine.hpp"
#include "policy/message_cache.hpp"
#include "server/codec.hpp"
#include "server/logging.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace spfgate::server {

using ResolverFactory =
    std::function<std::unique_ptr<dns::Resolver>(boost::asio::io_context&, const config::Settings&)>;

// What connections need from the server; outlives every connection (shared ownership).
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Close now if idle; otherwise close right after the reply being worked on.
  virtual void shutdown() = 0;
};

struct ServerState {
  std::shared_ptr<const policy::Engine> engine;
  std::shared_ptr<const config::Settings> settings;
  dns::Resolver* resolver = nullptr;
  policy::MessageCache cache;
  RateLimitedLog peer_warnings;
  std::unordered_set<ConnectionBase*> connections;
  bool stopping = false;
  std::function<void()> on_idle;  // called when stopping and the last connection closed
  std::uint64_t next_connection_id = 1;
};

class Server {
 public:
  Server(std::vector<std::string> args, config::Loaded loaded, ResolverFactory make_resolver);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int run();
  boost::asio::io_context& io() { return *io_; }

 private:
  void open_listeners();
  void start_signals();
  void reload();
  void begin_shutdown(const char* why);
  void drop_privileges();
  void bind_unix(const struct ListenSpec& spec);
  void bind_tcp(const struct ListenSpec& spec);
  void adopt_systemd_sockets();
  // Accepts connections on `acceptor` until shutdown closes it.
  template <class Acceptor>
  void serve_acceptor(std::shared_ptr<Acceptor> acceptor, std::string name);
  void start_observability();

  std::unique_ptr<boost::asio::io_context> io_;
  std::vector<std::string> args_;
  std::shared_ptr<ServerState> state_;
  std::unique_ptr<dns::Resolver> resolver_;
  std::optional<boost::asio::signal_set> signals_;
  std::vector<std::function<void()>> close_listeners_;
  std::function<void()> close_metrics_;
  std::shared_ptr<boost::asio::steady_timer> stats_timer_;
  std::vector<std::string> unix_paths_;  // removed at exit
  bool serve_single_ = false;            // spawn or systemd Accept=yes
  int single_fd_ = -1;                   // the connected socket of Accept=yes (-1: stdin/stdout)
};

}  // namespace spfgate::server
