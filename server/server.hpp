// server/server.hpp: the daemon — listeners, connections, signals, reload, shutdown.
//
//   Server server(args, config::load(args), {make_shared_resolver, make_thread_resolver});  // the Engines
//   return server.run();                                       // until SIGTERM/SIGINT or spawn EOF
//
// Concurrency model: every connection is one coroutine (plus a watchdog that enforces its timeouts) on
// one worker's io_context, run by one thread; requests on a connection are answered in order, connections
// are served concurrently, and every DNS lookup is asynchronous, so nothing waits on anything else. By
// default (threads = 1) there is one worker, on the main io_context, which also runs the listeners, the
// signals, the metrics endpoint and the resolver. With threads = N, N-1 more workers each run their own
// io_context on their own thread (Asio's io_context-per-CPU design: no lock, no hand-off between threads
// on the path of a request). The main thread accepts every connection and hands it to the worker with the
// fewest; a worker touches only its own state (Engine with its result caches, DNS answer cache,
// connections), except for what is shared on purpose and safe from any thread: the resolver (one
// libunbound context, one cache), the per-message cache and the metrics. A reload builds an Engine per
// worker and gives each its own on its own thread; shutdown asks every worker to close, then waits for all.
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

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace spfgate::server {

// How the Resolvers are built (server/resolver_factory.hpp has the daemon's).
struct ResolverFactory {
  // The process's one resolver, on the main io_context; must accept queries from any thread.
  std::function<std::unique_ptr<dns::Resolver>(boost::asio::io_context&, const config::Settings&)> shared;
  // What each worker puts in front of it (used by that worker's thread alone).
  std::function<std::unique_ptr<dns::Resolver>(dns::Resolver&, const config::Settings&)> per_worker;
};

// What connections need from the server; outlives every connection (shared ownership).
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Close now if idle; otherwise close right after the reply being worked on.
  virtual void shutdown() = 0;
};

// One worker's state, touched by its thread alone unless said otherwise.
struct ServerState {
  std::shared_ptr<const policy::Engine> engine;
  std::shared_ptr<const config::Settings> settings;
  dns::Resolver* resolver = nullptr;        // the worker's own (answer cache, counters)
  policy::MessageCache* cache = nullptr;    // shared by every worker (thread-safe)
  RateLimitedLog* peer_warnings = nullptr;  // shared by every worker (thread-safe): one budget per peer
  std::unordered_set<ConnectionBase*> connections;
  bool stopping = false;
  std::function<void()> on_idle;  // called when stopping and the last connection closed
  // Any thread: connections handed to this worker and not closed yet. The accepting thread counts one in
  // when it hands it over (so a burst of accepts spreads over the workers), the connection counts itself
  // out when it ends.
  std::atomic<std::size_t> assigned{0};
};

// One thread serving connections.
struct Worker {
  boost::asio::io_context* io = nullptr;            // the main io_context for the first worker
  std::unique_ptr<boost::asio::io_context> own_io;  // the others'
  std::shared_ptr<ServerState> state;
  std::unique_ptr<dns::Resolver> resolver;
  std::thread thread;
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
  template <class Acceptor, class Socket>
  boost::asio::awaitable<void> accept_loop(Acceptor& acceptor, std::string name);
  template <class Socket>
  void hand_over(Worker& worker, Socket socket, std::string peer);
  Worker& least_busy();
  std::size_t open_connections() const;
  // Runs `f` on the worker's thread: now if that is this one, else posted.
  void run_on(Worker& worker, std::function<void()> f);
  void start_workers();
  void stop_workers();
  void start_observability();

  std::unique_ptr<boost::asio::io_context> io_;
  std::vector<std::string> args_;
  std::unique_ptr<dns::Resolver> resolver_;  // shared by every worker
  policy::MessageCache message_cache_;       // shared by every worker
  RateLimitedLog peer_warnings_;             // shared by every worker
  std::vector<std::unique_ptr<Worker>> workers_;
  std::shared_ptr<ServerState> state_;       // the first worker's: the main thread's own
  std::uint64_t next_connection_id_ = 1;
  std::optional<boost::asio::signal_set> signals_;
  std::vector<std::function<void()>> close_listeners_;
  std::function<void()> close_metrics_;
  std::shared_ptr<boost::asio::steady_timer> stats_timer_;
  std::vector<std::string> unix_paths_;  // removed at exit
  bool serve_single_ = false;            // spawn or systemd Accept=yes
  int single_fd_ = -1;                   // the connected socket of Accept=yes (-1: stdin/stdout)
};

}  // namespace spfgate::server
