#include "server/server.hpp"

#include "common/metrics.hpp"
#include "common/text.hpp"
#include "config/error.hpp"
#include "server/connection.hpp"
#include "server/listen_spec.hpp"
#include "server/metrics_http.hpp"
#include "server/stdio_stream.hpp"
#include "server/systemd.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>  // SD_LISTEN_FDS_START; the library is loaded by server/systemd.cpp
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace spfgate::server {

namespace asio = boost::asio;

namespace {

std::string errno_text() { return std::strerror(errno); }

// Descriptors the daemon needs besides one per connection: listeners, libunbound's sockets (it opens one
// per outstanding query, up to its own limit), log and configuration files.
constexpr rlim_t kSpareDescriptors = 256;

// Every connection costs a descriptor, so the usual soft limit of 1024 would cap max-connections below its
// default once DNS sockets are counted. Raise the soft limit to the hard limit (no privilege needed), and
// say so when even that is too low for max-connections: accept() then fails with EMFILE, and the accept
// loop logs it and retries.
void raise_open_files_limit(unsigned max_connections) {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t before = rl.rlim_cur;
  if (rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      spdlog::warn("cannot raise the open-files limit from {} to {}: {}", before, rl.rlim_max, errno_text());
      rl.rlim_cur = before;
    } else {
      spdlog::info("open-files limit raised from {} to {}", before,
                   rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(rl.rlim_cur));
    }
  }
  const rlim_t needed = static_cast<rlim_t>(max_connections) + kSpareDescriptors;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < needed)
    spdlog::warn("max-connections {} needs about {} open files, but the limit is {}: raise LimitNOFILE (systemd) "
                 "or ulimit -n, or lower max-connections",
                 max_connections, needed, rl.rlim_cur);
}

uid_t lookup_user(const std::string& name, gid_t* primary_group) {
  struct passwd* pw = ::getpwnam(name.c_str());
  if (!pw) throw config::Error("unknown user '" + name + "'");
  if (primary_group) *primary_group = pw->pw_gid;
  return pw->pw_uid;
}

gid_t lookup_group(const std::string& name) {
  struct group* gr = ::getgrnam(name.c_str());
  if (!gr) throw config::Error("unknown group '" + name + "'");
  return gr->gr_gid;
}

}  // namespace

Server::Server(std::vector<std::string> args, config::Loaded loaded, ResolverFactory make_resolver)
    : io_(std::make_unique<asio::io_context>(1)), args_(std::move(args)) {
  auto settings = std::make_shared<const config::Settings>(std::move(loaded.settings));
  if (settings->spawn) {
    // In spawn mode fd 1 and fd 2 are the Postfix socket. Keep a private duplicate for replies and point
    // both at /dev/null, so that nothing (a library, a stray message) can ever write into the protocol.
    serve_single_ = true;
  }
  resolver_ = make_resolver.shared(*io_, *settings);
  // One connection (spawn) needs one thread; threads = 0 means one per core.
  unsigned threads = settings->threads ? settings->threads
                                       : std::clamp(std::thread::hardware_concurrency(), 1u, config::Settings::kMaxThreads);
  if (settings->spawn) threads = 1;
  for (unsigned i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>();
    if (i == 0) {
      w->io = io_.get();
    } else {
      w->own_io = std::make_unique<asio::io_context>(1);
      w->io = w->own_io.get();
    }
    w->state = std::make_shared<ServerState>();
    w->state->settings = settings;
    // Each worker its own result caches; one reading of the helo_access tables and the Per_User file for all.
    w->state->engine = policy::Engine::build(settings, i ? workers_.front()->state->engine->files() : nullptr);
    w->resolver = make_resolver.per_worker(*resolver_, *settings);
    w->state->resolver = w->resolver.get();
    w->state->cache = &message_cache_;
    w->state->peer_warnings = &peer_warnings_;
    workers_.push_back(std::move(w));
  }
  state_ = workers_.front()->state;
  for (const auto& n : loaded.notices) spdlog::warn("{}", n);
}

Server::~Server() {
  stop_workers();
  // Every io_context is stopped. The shared resolver goes first, while the io_context its descriptor and
  // timers belong to still exists (queries in flight complete with an error, posted but never run); then
  // the workers' answer caches; then the io_contexts, which destroy every pending coroutine while the
  // caches and the state they point to exist. The main one before the workers': handlers queued there
  // (a resolver's answers to a worker's question, an accept for a worker) hold work on a worker's
  // io_context, so that one must still exist when they are destroyed.
  resolver_.reset();
  for (auto& w : workers_) {
    w->state->resolver = nullptr;
    w->resolver.reset();
    // Connections destroyed with the io_contexts below must not report the worker idle: that posts to
    // the main io_context, which may be gone by then (a worker's connection after shutdown-timeout).
    w->state->on_idle = nullptr;
  }
  // I/O objects must not outlive their io_context: the signal set's destructor calls into its service,
  // which the io_context destroys (UBSan caught this at every exit).
  signals_.reset();
  close_listeners_.clear();
  close_metrics_ = nullptr;
  stats_timer_.reset();
  io_.reset();
  for (auto& w : workers_) w->own_io.reset();
  for (const auto& path : unix_paths_) ::unlink(path.c_str());
}

void Server::start_workers() {
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    w.thread = std::thread([io = w.io, i] {
      const std::string name = "spfgate-w" + std::to_string(i);
      ::pthread_setname_np(::pthread_self(), name.c_str());
      // Idle until stop_workers(): connections arrive from the main thread at any time.
      auto keep = asio::make_work_guard(*io);
      batch_log_lines_on(*io);
      for (;;) {
        try {
          io->run();
          end_batched_log_lines();
          return;
        } catch (const std::exception& e) {
          // Nothing a peer does throws out of a connection; if something does, keep serving the others.
          spdlog::error("worker {}: {}; continuing", i, e.what());
        } catch (...) {
          spdlog::error("worker {}: unknown exception; continuing", i);
        }
      }
    });
  }
}

void Server::stop_workers() {
  for (auto& w : workers_)
    if (w->own_io) w->own_io->stop();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

void Server::run_on(Worker& worker, std::function<void()> f) {
  if (worker.io == io_.get()) f();
  else asio::post(*worker.io, std::move(f));
}

Worker& Server::least_busy() {
  Worker* best = workers_.front().get();
  for (auto& w : workers_)
    if (w->state->assigned.load(std::memory_order_relaxed) < best->state->assigned.load(std::memory_order_relaxed))
      best = w.get();
  return *best;
}

std::size_t Server::open_connections() const {
  std::size_t n = 0;
  for (const auto& w : workers_) n += w->state->assigned.load(std::memory_order_relaxed);
  return n;
}

template <class Socket>
void Server::hand_over(Worker& worker, Socket socket, std::string peer) {
  worker.state->assigned.fetch_add(1, std::memory_order_relaxed);
  run_on(worker, [state = worker.state, socket = std::make_shared<Socket>(std::move(socket)), peer = std::move(peer)]() mutable {
    if (state->stopping) {  // arrived after shutdown began: close it unserved
      state->assigned.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    // Only memory exhaustion throws here; it must not end the accept loop (worker 0 runs this inline).
    try {
      start_connection(state, std::move(*socket), std::move(peer));
    } catch (const std::exception& e) {
      spdlog::error("cannot serve a new connection: {}", e.what());
    }
  });
}

template <class Acceptor, class Socket>
asio::awaitable<void> Server::accept_loop(Acceptor& acceptor, std::string name) {
  for (;;) {
    // Accepted straight onto the worker's io_context; the socket is the worker's from the start.
    Worker& worker = least_busy();
    auto [ec, socket] = co_await acceptor.async_accept(asio::any_io_executor(worker.io->get_executor()),
                                                       asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and the like: log, back off briefly, keep serving the connections we have.
      state_->peer_warnings->warn("accept:" + name, "accept on " + name + " failed: " + ec.message());
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (state_->stopping) co_return;
    Metrics& m = metrics();
    if (open_connections() >= state_->settings->max_connections) {
      m.add(m.ids().limit_hits, {"max-connections"});
      state_->peer_warnings->warn("limit:" + name, "connection limit (max-connections " +
                                                       std::to_string(state_->settings->max_connections) +
                                                       ") reached on " + name + "; refusing new connections");
      boost::system::error_code ignore;
      socket.close(ignore);
      continue;
    }
    std::string peer;
    if constexpr (std::is_same_v<Socket, asio::ip::tcp::socket>) {
      boost::system::error_code pec;
      auto ep = socket.remote_endpoint(pec);
      peer = pec ? name : ep.address().to_string() + ":" + std::to_string(ep.port());
    } else {
      peer = name + "#" + std::to_string(next_connection_id_);
    }
    ++next_connection_id_;
    m.add(m.ids().connections, {});
    hand_over(worker, std::move(socket), std::move(peer));
  }
}

void Server::bind_unix(const ListenSpec& spec) {
  namespace fs = std::filesystem;
  std::error_code fec;
  const fs::path parent = fs::path(spec.path).parent_path();
  if (!fs::exists(parent, fec)) {
    fs::create_directories(parent, fec);
    if (fec) throw std::runtime_error("cannot create " + parent.string() + ": " + fec.message());
  }
  struct stat st {};
  if (::lstat(spec.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(spec.path + " exists and is not a socket");
    // A live socket means another instance: refuse rather than steal it.
    asio::local::stream_protocol::socket probe(*io_);
    boost::system::error_code ec;
    probe.connect(asio::local::stream_protocol::endpoint(spec.path), ec);
    if (!ec) throw std::runtime_error(spec.path + " is in use by another process");
    ::unlink(spec.path.c_str());
  }
  auto acceptor = std::make_shared<asio::local::stream_protocol::acceptor>(*io_);
  acceptor->open();
  boost::system::error_code ec;
  acceptor->bind(asio::local::stream_protocol::endpoint(spec.path), ec);
  if (ec) throw std::runtime_error("cannot bind " + spec.path + ": " + ec.message());
  acceptor->listen(asio::socket_base::max_listen_connections);
  unix_paths_.push_back(spec.path);
  if (::chmod(spec.path.c_str(), spec.mode) != 0)
    throw std::runtime_error("cannot chmod " + spec.path + ": " + errno_text());
  if (!spec.owner.empty() || !spec.group.empty()) {
    gid_t gid = static_cast<gid_t>(-1);
    uid_t uid = static_cast<uid_t>(-1);
    if (!spec.owner.empty()) uid = lookup_user(spec.owner, nullptr);
    if (!spec.group.empty()) gid = lookup_group(spec.group);
    if (::chown(spec.path.c_str(), uid, gid) != 0)
      throw std::runtime_error("cannot chown " + spec.path + ": " + errno_text());
  }
  spdlog::info("listening on unix:{}", spec.path);
  serve_acceptor(acceptor, "unix:" + spec.path);
}

template <class Acceptor>
void Server::serve_acceptor(std::shared_ptr<Acceptor> acceptor, std::string name) {
  using Socket = typename Acceptor::protocol_type::socket;
  asio::co_spawn(*io_, accept_loop<Acceptor, Socket>(*acceptor, std::move(name)), [acceptor](std::exception_ptr) {});
  close_listeners_.push_back([acceptor] {
    boost::system::error_code ignore;
    acceptor->close(ignore);
  });
}

void Server::bind_tcp(const ListenSpec& spec) {
  auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(*io_);
  const asio::ip::tcp::endpoint ep(asio::ip::make_address(spec.host), spec.port);
  boost::system::error_code ec;
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && ep.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + spec.text + ": " + ec.message());
  const std::string name = "tcp:" + spec.host + ":" + std::to_string(acceptor->local_endpoint().port());
  spdlog::info("listening on {}", name);
  serve_acceptor(acceptor, name);
}

void Server::adopt_systemd_sockets() {
  const int n = systemd::listen_fds();
  if (n <= 0) return;
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
    struct sockaddr_storage ss {};
    socklen_t sslen = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sslen) != 0)
      throw std::runtime_error("systemd socket fd " + std::to_string(fd) + ": " + errno_text());
    if (!listening) {
      // Accept=yes: systemd hands us one connected socket; serve it like --spawn.
      serve_single_ = true;
      single_fd_ = fd;
      continue;
    }
    if (ss.ss_family == AF_UNIX) {
      auto acceptor = std::make_shared<asio::local::stream_protocol::acceptor>(*io_, asio::local::stream_protocol(), fd);
      spdlog::info("listening on a socket from systemd (fd {}, unix)", fd);
      serve_acceptor(acceptor, "systemd:unix#" + std::to_string(fd));
    } else if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
      auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(
          *io_, ss.ss_family == AF_INET ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), fd);
      spdlog::info("listening on a socket from systemd (fd {}, tcp)", fd);
      serve_acceptor(acceptor, "systemd:tcp#" + std::to_string(fd));
    } else {
      throw std::runtime_error("systemd socket fd " + std::to_string(fd) + " is neither unix nor tcp");
    }
  }
}

void Server::open_listeners() {
  const auto& s = *state_->settings;
  if (s.spawn) return;
  adopt_systemd_sockets();
  std::vector<std::string> specs = s.listen;
  if (specs.empty() && close_listeners_.empty() && !serve_single_) specs.emplace_back(kDefaultListen);
  for (const auto& text : specs) {
    const ListenSpec spec = parse_listen(text);
    if (spec.kind == ListenSpec::Kind::Unix) bind_unix(spec);
    else bind_tcp(spec);
  }
}

void Server::drop_privileges() {
  const auto& s = *state_->settings;
  if (s.user.empty() && s.group.empty()) return;
  gid_t gid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  bool have_gid = false;
  if (!s.user.empty()) {
    uid = lookup_user(s.user, &gid);
    have_gid = true;
  }
  if (!s.group.empty()) {
    gid = lookup_group(s.group);
    have_gid = true;
  }
  if (have_gid) {
    if (::setgroups(1, &gid) != 0 && errno != EPERM) throw std::runtime_error("setgroups: " + errno_text());
    if (::setgid(gid) != 0) throw std::runtime_error("setgid(" + std::to_string(gid) + "): " + errno_text());
  }
  if (uid != static_cast<uid_t>(-1)) {
    if (::setuid(uid) != 0) throw std::runtime_error("setuid(" + std::to_string(uid) + "): " + errno_text());
    if (uid != 0 && ::setuid(0) == 0) throw std::runtime_error("could regain root after dropping privileges");
  }
  spdlog::info("running as uid {} gid {}", ::getuid(), ::getgid());
}

void Server::start_signals() {
  signals_.emplace(*io_, SIGTERM, SIGINT, SIGHUP);
  // The pending handler owns the re-arming function, which holds only a weak reference to itself: a
  // strong one would be a reference cycle, leaked at exit (LeakSanitizer).
  auto wait = std::make_shared<std::function<void()>>();
  *wait = [this, self = std::weak_ptr<std::function<void()>>(wait)] {
    auto again = self.lock();
    if (!again) return;
    signals_->async_wait([this, again](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        (*again)();
      } else {
        begin_shutdown(sig == SIGTERM ? "SIGTERM" : "SIGINT");
      }
    });
  };
  (*wait)();
}

void Server::reload() {
  try {
    config::Loaded loaded = config::load(args_);
    auto fresh = std::make_shared<const config::Settings>(std::move(loaded.settings));
    // Each worker its own Engine (its own result caches); all built before any is used.
    std::vector<std::shared_ptr<const policy::Engine>> engines;
    // The files are read once: the first Engine's reading (helo_access tables, Per_User) serves them all.
    for (std::size_t i = 0; i < workers_.size(); ++i)
      engines.push_back(policy::Engine::build(fresh, i ? engines.front()->files() : nullptr));
    const auto& old = *state_->settings;
    if (fresh->listen != old.listen || fresh->user != old.user || fresh->group != old.group ||
        fresh->dns_forwarders != old.dns_forwarders || fresh->resolver_config != old.resolver_config ||
        fresh->trust_anchor_file != old.trust_anchor_file || fresh->dnssec != old.dnssec ||
        fresh->dns_cache_bytes != old.dns_cache_bytes || fresh->dns_cache_entries != old.dns_cache_entries ||
        fresh->dns_cache_memory != old.dns_cache_memory || fresh->threads != old.threads)
      spdlog::warn("reload: listener, user, threads and DNS settings changes take effect only after a restart");
    // Keep the spawn-mode flag: it comes from the command line and cannot change.
    if (fresh->spawn != old.spawn) throw config::Error("--spawn cannot change on reload");
    setup_logging(*fresh);
    for (std::size_t i = 0; i < workers_.size(); ++i)
      run_on(*workers_[i], [state = workers_[i]->state, fresh, engine = engines[i]] {
        state->settings = fresh;
        state->engine = engine;
      });
    for (const auto& n : loaded.notices) spdlog::warn("{}", n);
    spdlog::info("configuration reloaded");
    metrics().add(metrics().ids().reloads, {"ok"});
  } catch (const std::exception& e) {
    metrics().add(metrics().ids().reloads, {"failed"});
    spdlog::error("reload failed, keeping the previous configuration: {}", e.what());
  }
}

void Server::begin_shutdown(const char* why) {
  if (state_->stopping) return;
  spdlog::info("{}: stopping; {} connection(s) open", why, open_connections());
  for (auto& close : close_listeners_) close();
  if (close_metrics_) close_metrics_();
  if (stats_timer_) stats_timer_->cancel();
  if (signals_) {
    boost::system::error_code ignore;
    signals_->cancel(ignore);
  }
  // Every worker closes its idle connections and the others after their reply; the last worker to have
  // none left stops the main loop, and run() then stops the workers.
  auto io = io_.get();
  auto busy = std::make_shared<std::atomic<std::size_t>>(workers_.size());
  auto one_idle = [io, busy] {
    if (busy->fetch_sub(1) == 1) asio::post(*io, [io] { io->stop(); });
  };
  for (auto& w : workers_)
    run_on(*w, [state = w->state, one_idle] {
      state->stopping = true;
      state->on_idle = [one_idle, fired = std::make_shared<bool>(false)] {
        if (*fired) return;
        *fired = true;
        one_idle();
      };
      // Copy: shutdown() may destroy connections and so modify the set.
      std::vector<ConnectionBase*> open(state->connections.begin(), state->connections.end());
      for (auto* c : open)
        if (state->connections.count(c)) c->shutdown();
      if (state->connections.empty()) state->on_idle();
    });
  auto timer = std::make_shared<asio::steady_timer>(*io_, state_->settings->shutdown_timeout);
  timer->async_wait([timer, io, this](const boost::system::error_code& ec) {
    if (ec) return;
    spdlog::warn("shutdown-timeout passed with {} connection(s) still busy; exiting", open_connections());
    io->stop();
  });
}

void Server::start_observability() {
  const auto& s = *state_->settings;
  auto state = state_;
  if (!s.metrics_listen.empty())
    close_metrics_ = start_metrics_http(*io_, parse_listen(s.metrics_listen), [this] {
      Metrics& m = metrics();
      m.set(m.ids().connections_open, {}, static_cast<double>(open_connections()));
      m.set(m.ids().message_cache_entries, {}, static_cast<double>(message_cache_.size()));
      return m.exposition();
    });
  if (s.stats_interval.count() > 0) {
    stats_timer_ = std::make_shared<asio::steady_timer>(*io_);
    auto timer = stats_timer_;
    // The pending wait holds the only strong reference to the tick, so a cancelled timer frees it (a tick
    // holding itself would be a cycle that outlives the io_context).
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [this, timer, weak_tick = std::weak_ptr<std::function<void()>>(tick), state] {
      auto self = weak_tick.lock();
      if (!self) return;
      timer->expires_after(state->settings->stats_interval.count() > 0 ? state->settings->stats_interval
                                                                       : std::chrono::milliseconds(3'600'000));
      timer->async_wait([this, timer, self, state](const boost::system::error_code& ec) {
        if (ec) return;
        Metrics& m = metrics();
        m.set(m.ids().connections_open, {}, static_cast<double>(open_connections()));
        if (state->settings->stats_interval.count() > 0) spdlog::info("stats: {}", m.summary());
        (*self)();
      });
    };
    (*tick)();
  }
}

int Server::run() {
  raise_open_files_limit(state_->settings->max_connections);
  open_listeners();
  start_observability();  // binds --metrics too, before privileges go (it may be a port below 1024)
  drop_privileges();
  start_signals();
  if (serve_single_) {
    // One connection (spawn, or systemd's Accept=yes): one thread.
    workers_.resize(1);
    auto io = io_.get();
    auto done = [io] { io->stop(); };
    state_->assigned.fetch_add(1, std::memory_order_relaxed);
    if (single_fd_ >= 0) {
      asio::local::stream_protocol::socket socket(*io_);
      struct sockaddr_storage ss {};
      socklen_t len = sizeof ss;
      ::getsockname(single_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
      if (ss.ss_family == AF_UNIX) {
        socket.assign(asio::local::stream_protocol(), single_fd_);
        start_connection(state_, std::move(socket), "systemd-connection", done);
      } else {
        asio::ip::tcp::socket tcp(*io_, ss.ss_family == AF_INET ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), single_fd_);
        start_connection(state_, std::move(tcp), "systemd-connection", done);
      }
    } else {
      StdioStream stdio(io_->get_executor(), STDIN_FILENO, STDOUT_FILENO);
      // From now on nothing but our replies may reach the Postfix socket.
      const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (devnull >= 0) {
        ::dup2(devnull, STDOUT_FILENO);
        ::dup2(devnull, STDERR_FILENO);
        ::close(devnull);
      }
      start_connection(state_, std::move(stdio), "spawn", done);
    }
  }
  if (!serve_single_ && close_listeners_.empty()) throw std::runtime_error("no listener configured");
  // A spawned process (and a systemd Accept=yes one) serves one connection: one SMTP session. Its start
  // and stop would be two log lines per session, so they are debug lines there (pypolicyd-spf logs none).
  const auto lifecycle = serve_single_ ? spdlog::level::debug : spdlog::level::info;
  if (workers_.size() > 1) spdlog::info("spfgate {} ready, {} threads", SPFGATE_VERSION, workers_.size());
  else spdlog::log(lifecycle, "spfgate {} ready", SPFGATE_VERSION);
  start_workers();
  batch_log_lines_on(*io_);
  io_->run();
  end_batched_log_lines();
  stop_workers();
  spdlog::log(lifecycle, "stopped");
  return 0;
}

}  // namespace spfgate::server
