// tests/bench/loadgen.cpp: spfgate-loadgen, a load generator that speaks the Postfix policy protocol.
//
//   spfgate-loadgen [options] TARGET CORPUS
//     TARGET  unix:PATH | tcp:HOST:PORT | spawn:'CMD ARGS...' (one child per connection, as Postfix's spawn(8))
//     CORPUS  request blocks ("name=value" lines, each block ended by an empty line), sent round-robin
//
//   spfgate-loadgen -c 100 -n 200000 --warmup 2 unix:/run/spfgate.sock corpus.txt
//   spfgate-loadgen --startup 20 spawn:'build/spfgate --spawn policyd-spf.conf' corpus.txt
//
// Every connection works in lock-step like smtpd: one request outstanding, the next sent only after the
// reply. Requests are taken from the corpus round-robin (a global counter), `instance=` made unique per
// request (Postfix asks once per recipient; a repeated instance would be answered from the server's
// per-message cache), until the total is sent. Prints requests/s, p50/p90/p99/max latency (from the write
// of a request to the end of its reply) and the count of each action (its first word, lower case).
// --rate R paces the measured requests instead: request n is due 1/R s after request n-1 (over
// all connections; each connection still waits for its reply before it takes the next), and its latency
// is counted from when it was due, not from when it was written: a server that falls behind is charged for
// the wait it caused (no "coordinated omission"), and a run shows the latency at a given load rather than
// at saturation. Two parts of that latency are printed apart: "queued" (due while every connection was
// still waiting for a reply: the server's backlog) and "generator late" (from when the request was due,
// or its connection came free, to its write: the generator's own thread woken late).
// --startup N measures a spawn target's start-up instead: N times, one after the other, start the command,
// send one request, and time exec to the end of the first answer.
//
// Exit status: 0 if every request got exactly one well-formed reply ("action=<text>" and an empty line);
// 1 on any malformed, missing or late reply (--timeout), a connection that could not be made or closed
// early, or a child that died; 2 on a usage error. The first fault is printed.
// Spawn: the command is split into words like a shell would (quotes, backslashes; no expansion) and run
// without a shell, with stdin, stdout and stderr on one end of a socketpair (spawn(8) does the same);
// at the end the sockets are closed, the children get 5 s to exit, then SIGTERM, then SIGKILL.
// Limits: a reply over 64 KiB is a fault; latencies are kept per request (4 bytes each).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Socket = asio::generic::stream_protocol::socket;

constexpr std::size_t kMaxReply = 64 * 1024;

// ----- command line -------------------------------------------------------------------------------------
struct Args {
  std::string target;
  std::string corpus;
  unsigned connections = 1;
  std::uint64_t requests = 0;  // 0: one pass over the corpus
  unsigned warmup = 0;         // requests per connection before measuring
  unsigned threads = 1;
  unsigned startup = 0;        // >0: start-up measurement (spawn only)
  std::uint64_t rate = 0;      // >0: measured requests paced at this many per second (all connections)
  bool unique_instance = true;
  std::chrono::milliseconds timeout{30000};
  std::string json;            // write a JSON summary here
  std::string replies;         // write "<corpus index>\t<action>" for each measured reply here
  std::string child_stderr;    // spawn: children's stderr goes here instead of the socket
  std::string label;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "spfgate-loadgen: %s\n"
               "usage: spfgate-loadgen [-c CONNECTIONS] [-n REQUESTS] [--warmup N] [--threads N] [--timeout MS]\n"
               "                       [--no-unique-instance] [--json FILE] [--replies FILE] [--label TEXT]\n"
               "                       [--child-stderr FILE] [--startup N] [--rate R] TARGET CORPUS\n"
               "  TARGET: unix:PATH, tcp:HOST:PORT or spawn:'CMD ARGS...'\n",
               why.c_str());
  std::exit(2);
}

std::uint64_t number(const std::string& option, const std::string& text) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size()) usage(option + ": not a number: " + text);
  return n;
}

Args parse_args(int argc, char** argv) {
  Args a;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-c" || arg == "--connections") a.connections = static_cast<unsigned>(number(arg, value()));
    else if (arg == "-n" || arg == "--requests") a.requests = number(arg, value());
    else if (arg == "--warmup") a.warmup = static_cast<unsigned>(number(arg, value()));
    else if (arg == "--threads") a.threads = static_cast<unsigned>(number(arg, value()));
    else if (arg == "--startup") a.startup = static_cast<unsigned>(number(arg, value()));
    else if (arg == "--rate") a.rate = number(arg, value());
    else if (arg == "--timeout") a.timeout = std::chrono::milliseconds(number(arg, value()));
    else if (arg == "--no-unique-instance") a.unique_instance = false;
    else if (arg == "--json") a.json = value();
    else if (arg == "--replies") a.replies = value();
    else if (arg == "--child-stderr") a.child_stderr = value();
    else if (arg == "--label") a.label = value();
    else if (arg == "-h" || arg == "--help") usage("help");
    else if (!arg.empty() && arg[0] == '-') usage("unknown option " + arg);
    else positional.push_back(arg);
  }
  if (positional.size() != 2) usage("want TARGET and CORPUS");
  a.target = positional[0];
  a.corpus = positional[1];
  if (a.connections == 0 || a.threads == 0) usage("connections and threads must be at least 1");
  if (a.rate && a.startup) usage("--rate and --startup do not go together");
  // The last request is due requests / rate seconds after the start: keep that within a century.
  if (a.rate && a.requests / a.rate > 100ull * 365 * 86400) usage("--rate: too many requests for that rate");
  if (a.threads > a.connections) a.threads = a.connections;
  return a;
}

// ----- the corpus ---------------------------------------------------------------------------------------
struct Block {
  std::string head;      // up to and including "instance=" (the whole block when it has none)
  std::string instance;  // the corpus's value
  std::string tail;      // from the LF after the instance value to the empty line, inclusive
  bool has_instance = false;
};

std::vector<Block> read_corpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) usage("cannot read corpus " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<Block> blocks;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && text[at] == '\n') ++at;  // tolerate extra empty lines between blocks
    if (at >= text.size()) break;
    std::size_t end = text.find("\n\n", at);
    if (end == std::string::npos) end = text.size();
    std::string body = text.substr(at, end - at) + "\n\n";
    at = end + 2;
    Block b;
    std::size_t pos = body.rfind("\ninstance=");
    if (body.compare(0, 9, "instance=") == 0) pos = 0;
    else if (pos != std::string::npos) pos += 1;
    if (pos == std::string::npos) {
      b.head = std::move(body);
    } else {
      const std::size_t value = pos + 9;
      const std::size_t lf = body.find('\n', value);
      b.head = body.substr(0, value);
      b.instance = body.substr(value, lf - value);
      b.tail = body.substr(lf);
      b.has_instance = true;
    }
    blocks.push_back(std::move(b));
  }
  if (blocks.empty()) usage("corpus " + path + " holds no request");
  return blocks;
}

// ----- targets ------------------------------------------------------------------------------------------
struct Target {
  enum class Kind { Unix, Tcp, Spawn } kind = Kind::Unix;
  std::string path, host, port;
  std::vector<std::string> argv;
};

// Shell-like word splitting: whitespace separates, '...' and "..." quote, backslash escapes. No expansion.
std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\'') {
      const std::size_t end = s.find('\'', i + 1);
      if (end == std::string_view::npos) usage("unbalanced ' in spawn command");
      cur.append(s.substr(i + 1, end - i - 1));
      i = end;
      in_word = true;
    } else if (c == '"') {
      ++i;
      for (; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        cur += s[i];
      }
      if (i >= s.size()) usage("unbalanced \" in spawn command");
      in_word = true;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

Target parse_target(const std::string& text) {
  Target t;
  if (text.rfind("unix:", 0) == 0) {
    t.kind = Target::Kind::Unix;
    t.path = text.substr(5);
  } else if (text.rfind("tcp:", 0) == 0) {
    t.kind = Target::Kind::Tcp;
    const std::string rest = text.substr(4);
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) usage("tcp target wants HOST:PORT");
    t.host = rest.substr(0, colon);
    if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
    t.port = rest.substr(colon + 1);
  } else if (text.rfind("spawn:", 0) == 0) {
    t.kind = Target::Kind::Spawn;
    t.argv = split_words(text.substr(6));
    if (t.argv.empty()) usage("spawn target wants a command");
  } else {
    usage("target must start with unix:, tcp: or spawn:");
  }
  return t;
}

struct Child {
  pid_t pid = -1;
};

// Starts the command with stdin, stdout and stderr on one end of a socketpair; returns our end.
int spawn_child(const Target& t, const std::string& child_stderr, Child& child) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    std::perror("socketpair");
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
  if (child_stderr.empty()) posix_spawn_file_actions_adddup2(&fa, sv[1], 2);
  else posix_spawn_file_actions_addopen(&fa, 2, child_stderr.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  for (const auto& w : t.argv) argv.push_back(const_cast<char*>(w.c_str()));
  argv.push_back(nullptr);
  const int rc = ::posix_spawnp(&child.pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(sv[1]);
  if (rc != 0) {
    std::fprintf(stderr, "spfgate-loadgen: cannot start %s: %s\n", argv[0], std::strerror(rc));
    ::close(sv[0]);
    child.pid = -1;
    return -1;
  }
  return sv[0];
}

// Waits for the children to exit (their socket is closed: EOF); SIGTERM after 5 s, SIGKILL after 2 more.
// Returns how many exited with a failure or a signal other than ours.
unsigned reap(std::vector<Child>& children) {
  unsigned failed = 0;
  const auto start = Clock::now();
  bool termed = false, killed = false;
  std::size_t left = 0;
  for (auto& c : children) left += c.pid > 0;
  while (left > 0) {
    for (auto& c : children) {
      if (c.pid <= 0) continue;
      int status = 0;
      const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r == c.pid) {
        if (!termed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) ++failed;
        c.pid = -1;
        --left;
      }
    }
    if (left == 0) break;
    const auto waited = Clock::now() - start;
    if (!termed && waited > std::chrono::seconds(5)) {
      termed = true;
      for (auto& c : children)
        if (c.pid > 0) ::kill(c.pid, SIGTERM);
    } else if (!killed && waited > std::chrono::seconds(7)) {
      killed = true;
      for (auto& c : children)
        if (c.pid > 0) ::kill(c.pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return failed;
}

// ----- counting -----------------------------------------------------------------------------------------
struct Tally {
  std::vector<std::uint32_t> latency;  // units of 100 ns
  // --rate, 100 ns units: from when a request was due to when a connection took it (queued), and from
  // then, or from when it was due, to its write (late)
  std::vector<std::uint32_t> queued, late;
  std::vector<std::pair<std::string, std::uint64_t>> actions;
  std::uint64_t errors = 0;
  std::string first_error;
  std::vector<std::pair<std::uint64_t, std::string>> replies;  // --replies: (corpus index, action)

  void action(std::string_view word) {
    for (auto& [w, n] : actions)
      if (w == word) {
        ++n;
        return;
      }
    actions.emplace_back(std::string(word), 1);
  }
  void error(std::string what) {
    if (errors++ == 0) first_error = std::move(what);
  }
};

struct Shared {
  const Args* args = nullptr;
  const std::vector<Block>* corpus = nullptr;
  std::uint64_t total = 0;
  std::atomic<std::uint64_t> next{0};         // measured requests handed out
  std::atomic<std::uint64_t> warm_next{0};    // warm-up requests handed out (their own sequence)
  Clock::time_point start{};                  // of the measured phase; with --rate, request n is due
                                              // at start + n / rate
  std::string nonce;                          // makes instance= unique across runs too
};

// ----- one connection -----------------------------------------------------------------------------------
struct Conn {
  explicit Conn(Socket s) : socket(std::move(s)) { in.resize(kMaxReply); }
  Socket socket;
  std::string out;
  std::vector<char> in;
  std::size_t have = 0;
  Clock::time_point since{};
  bool outstanding = false;
  bool timed_out = false;
  bool dead = false;
  unsigned id = 0;
};

std::string hex(std::uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
  (void)ec;
  return std::string(buf, p);
}

// Checks one reply at the front of c.in. Returns the action text, or nullopt (with `why`) when more bytes
// are needed (why empty) or the reply is malformed (why set).
std::optional<std::string_view> take_reply(Conn& c, std::string& why, std::size_t& consumed) {
  const std::string_view data(c.in.data(), c.have);
  const auto lf = data.find('\n');
  if (lf == std::string_view::npos) return std::nullopt;
  if (lf + 1 >= data.size()) return std::nullopt;  // need the line after it
  const std::string_view line = data.substr(0, lf);
  if (data[lf + 1] != '\n') {
    why = "reply has more than one line: \"" + std::string(data.substr(0, std::min<std::size_t>(data.size(), 200))) + "\"";
    return std::nullopt;
  }
  if (line.rfind("action=", 0) != 0) {
    why = "reply is not action=...: \"" + std::string(line.substr(0, 200)) + "\"";
    return std::nullopt;
  }
  const std::string_view action = line.substr(7);
  if (action.empty() || action.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) {
    why = "empty action or CR/NUL in it: \"" + std::string(line.substr(0, 200)) + "\"";
    return std::nullopt;
  }
  consumed = lf + 2;
  return action;
}

std::string action_word(std::string_view action) {
  std::string w(action.substr(0, action.find(' ')));
  for (char& ch : w) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return w;
}

std::uint32_t units(Clock::duration d) {  // 100 ns units, clamped
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(ns / 100, 0, UINT32_MAX));
}

// Sends request `index` and reads its reply; its latency runs from `due` when it is set (--rate: `taken` is
// when this connection took it), else from the write. False: the connection is done for (the fault is
// counted).
asio::awaitable<bool> exchange(Shared& sh, Conn& c, Tally& tally, std::uint64_t index, std::uint64_t seq,
                               bool measured, Clock::time_point due = {}, Clock::time_point taken = {}) {
  const Block& b = (*sh.corpus)[index % sh.corpus->size()];
  c.out.clear();
  c.out += b.head;
  if (b.has_instance) {
    c.out += b.instance;
    if (sh.args->unique_instance) {
      c.out += sh.nonce;
      c.out += measured ? 'm' : 'w';
      c.out += hex(seq);
    }
    c.out += b.tail;
  }
  const auto written_at = Clock::now();
  const auto t0 = due == Clock::time_point{} ? written_at : std::min(due, written_at);
  c.since = written_at;
  c.outstanding = true;
  auto [wec, written] = co_await asio::async_write(c.socket, asio::buffer(c.out), asio::as_tuple(asio::use_awaitable));
  (void)written;
  if (wec) {
    c.outstanding = false;
    tally.error("connection " + std::to_string(c.id) + ": write failed: " + wec.message());
    co_return false;
  }
  for (;;) {
    std::string why;
    std::size_t consumed = 0;
    if (auto action = take_reply(c, why, consumed)) {
      const auto t1 = Clock::now();
      c.outstanding = false;
      if (consumed != c.have) {
        tally.error("connection " + std::to_string(c.id) + ": data after the reply (more than one reply?)");
        co_return false;
      }
      if (measured) {
        tally.latency.push_back(units(t1 - t0));
        if (due != Clock::time_point{}) {
          tally.queued.push_back(units(taken - due));                      // 0 when it was taken early
          tally.late.push_back(units(written_at - std::max(due, taken)));  // the timer's or the coroutine's
        }
        const std::string word = action_word(*action);
        tally.action(word);
        if (!sh.args->replies.empty()) tally.replies.emplace_back(index % sh.corpus->size(), std::string(*action));
      }
      c.have = 0;
      co_return true;
    }
    if (!why.empty()) {
      c.outstanding = false;
      tally.error("connection " + std::to_string(c.id) + ": " + why);
      co_return false;
    }
    if (c.have == c.in.size()) {
      c.outstanding = false;
      tally.error("connection " + std::to_string(c.id) + ": reply longer than 64 KiB");
      co_return false;
    }
    auto [ec, n] = co_await c.socket.async_read_some(asio::buffer(c.in.data() + c.have, c.in.size() - c.have),
                                                      asio::as_tuple(asio::use_awaitable));
    if (ec) {
      c.outstanding = false;
      if (c.timed_out)
        tally.error("connection " + std::to_string(c.id) + ": no reply within " +
                    std::to_string(sh.args->timeout.count()) + " ms");
      else
        tally.error("connection " + std::to_string(c.id) + ": " +
                    (ec == asio::error::eof ? std::string("closed by the server") : ec.message()) +
                    " before the reply" + (c.have ? " (partial: \"" + std::string(c.in.data(), std::min<std::size_t>(c.have, 200)) + "\")" : ""));
      co_return false;
    }
    c.have += n;
  }
}

// ----- a worker: one thread, one io_context, some of the connections ------------------------------------
struct Worker {
  asio::io_context io{1};
  std::vector<std::unique_ptr<Conn>> conns;
  Tally tally;
  std::size_t running = 0;
  std::shared_ptr<asio::steady_timer> watchdog;
};

void watchdog(Shared& sh, Worker& w, std::shared_ptr<asio::steady_timer> timer) {
  timer->expires_after(std::chrono::milliseconds(100));
  timer->async_wait([&sh, &w, timer](boost::system::error_code ec) {
    if (ec || w.running == 0) return;
    const auto now = Clock::now();
    for (auto& c : w.conns)
      if (c->outstanding && !c->timed_out && now - c->since > sh.args->timeout) {
        c->timed_out = true;
        boost::system::error_code ignore;
        c->socket.close(ignore);
      }
    watchdog(sh, w, timer);
  });
}

void run_phase(Shared& sh, Worker& w, bool measured) {
  w.running = 0;
  for (auto& cp : w.conns) {
    Conn& c = *cp;
    if (c.dead) continue;
    ++w.running;
    asio::co_spawn(
        w.io,
        [&sh, &w, &c, measured]() -> asio::awaitable<void> {
          if (measured) {
            asio::steady_timer pace(w.io);
            for (;;) {
              const std::uint64_t seq = sh.next.fetch_add(1, std::memory_order_relaxed);
              if (seq >= sh.total) break;
              Clock::time_point due{}, taken{};
              if (sh.args->rate) {
                taken = Clock::now();
                // seq / rate in nanoseconds, computed in long double (no overflow of seq * 1e9; parse_args
                // bounds the run to what fits a time_point)
                due = sh.start + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                     static_cast<long double>(seq) * 1e9L / static_cast<long double>(sh.args->rate)));
                if (due > taken) {
                  pace.expires_at(due);
                  co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
                }
              }
              if (!co_await exchange(sh, c, w.tally, seq, seq, true, due, taken)) {
                c.dead = true;
                break;
              }
            }
          } else {
            for (unsigned k = 0; k < sh.args->warmup; ++k) {
              const std::uint64_t seq = sh.warm_next.fetch_add(1, std::memory_order_relaxed);
              if (!co_await exchange(sh, c, w.tally, seq, seq, false)) {
                c.dead = true;
                break;
              }
            }
          }
          if (--w.running == 0 && w.watchdog) w.watchdog->cancel();
        },
        asio::detached);
  }
  w.watchdog = std::make_shared<asio::steady_timer>(w.io);
  if (w.running > 0) watchdog(sh, w, w.watchdog);
  w.io.run();
  w.io.restart();
}

std::optional<Socket> connect(asio::io_context& io, const Target& t, const std::string& child_stderr,
                              std::vector<Child>& children, std::mutex& children_mutex, std::string& why) {
  boost::system::error_code ec;
  if (t.kind == Target::Kind::Unix) {
    asio::local::stream_protocol::socket s(io);
    s.connect(asio::local::stream_protocol::endpoint(t.path), ec);
    if (ec) {
      why = "cannot connect to unix:" + t.path + ": " + ec.message();
      return std::nullopt;
    }
    return Socket(std::move(s));
  }
  if (t.kind == Target::Kind::Tcp) {
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(t.host, t.port, ec);
    asio::ip::tcp::socket s(io);
    if (!ec) asio::connect(s, endpoints, ec);
    if (ec) {
      why = "cannot connect to tcp:" + t.host + ":" + t.port + ": " + ec.message();
      return std::nullopt;
    }
    s.set_option(asio::ip::tcp::no_delay(true), ec);
    return Socket(std::move(s));
  }
  Child child;
  const int fd = spawn_child(t, child_stderr, child);
  if (fd < 0) {
    why = "cannot start " + t.argv[0];
    return std::nullopt;
  }
  {
    std::lock_guard lock(children_mutex);
    children.push_back(child);
  }
  asio::local::stream_protocol::socket s(io, asio::local::stream_protocol(), fd);
  return Socket(std::move(s));
}

// ----- reporting ----------------------------------------------------------------------------------------
double percentile(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const std::size_t i = std::min(sorted.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[i] / 10000.0;  // 100 ns units -> ms
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += c;
  }
  return out;
}

int run_startup(const Args& args, const Target& target, const std::vector<Block>& corpus) {
  if (target.kind != Target::Kind::Spawn) usage("--startup needs a spawn: target");
  Shared sh;
  sh.args = &args;
  sh.corpus = &corpus;
  sh.nonce = "." + hex(static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())) + ".";
  Tally tally;
  std::vector<double> times, exits;
  for (unsigned i = 0; i < args.startup; ++i) {
    asio::io_context io(1);
    std::vector<Child> children;
    const auto t0 = Clock::now();
    Child child;
    const int fd = spawn_child(target, args.child_stderr, child);
    if (fd < 0) return 1;
    children.push_back(child);
    Conn c(Socket(asio::local::stream_protocol::socket(io, asio::local::stream_protocol(), fd)));
    bool ok = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { ok = co_await exchange(sh, c, tally, i, i, true); },
                   asio::detached);
    io.run_for(args.timeout);
    const auto t1 = Clock::now();
    boost::system::error_code ignore;
    c.socket.close(ignore);
    const unsigned failed = reap(children);
    const auto t2 = Clock::now();
    if (!ok) {
      if (tally.errors == 0) tally.error("no reply within " + std::to_string(args.timeout.count()) + " ms");
      break;
    }
    if (failed) tally.error("the child exited with a failure status");
    times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    exits.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
  }
  std::sort(times.begin(), times.end());
  std::sort(exits.begin(), exits.end());
  auto at = [](const std::vector<double>& v, double p) {
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100 * static_cast<double>(v.size())))];
  };
  double mean = 0;
  for (double t : times) mean += t;
  if (!times.empty()) mean /= static_cast<double>(times.size());
  std::printf("%sstartup of %s: %zu runs, exec to first answer ms: min %.2f p50 %.2f mean %.2f max %.2f; exec to exit p50 %.2f\n",
              args.label.empty() ? "" : (args.label + ": ").c_str(), args.target.c_str(), times.size(),
              times.empty() ? 0 : times.front(), at(times, 50), mean, times.empty() ? 0 : times.back(), at(exits, 50));
  if (!tally.actions.empty()) std::printf("  first answer: %s\n", tally.actions.front().first.c_str());
  if (!args.json.empty()) {
    std::ofstream j(args.json);
    j << "{\"label\":\"" << json_escape(args.label) << "\",\"mode\":\"startup\",\"target\":\"" << json_escape(args.target)
      << "\",\"runs\":" << times.size() << ",\"min_ms\":" << (times.empty() ? 0 : times.front())
      << ",\"p50_ms\":" << at(times, 50) << ",\"mean_ms\":" << mean << ",\"max_ms\":" << (times.empty() ? 0 : times.back())
      << ",\"exit_p50_ms\":" << at(exits, 50) << ",\"errors\":" << tally.errors << ",\"first_error\":\""
      << json_escape(tally.first_error) << "\"}\n";
  }
  if (tally.errors) {
    std::fprintf(stderr, "spfgate-loadgen: FAILED: %s\n", tally.first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const Args args = parse_args(argc, argv);
  const Target target = parse_target(args.target);
  const std::vector<Block> corpus = read_corpus(args.corpus);
  if (args.startup > 0) return run_startup(args, target, corpus);

  Shared sh;
  sh.args = &args;
  sh.corpus = &corpus;
  sh.total = args.requests ? args.requests : corpus.size();
  sh.nonce = "." + hex(static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) ^
                       (static_cast<std::uint64_t>(::getpid()) << 40)) + ".";

  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < args.threads; ++t) workers.push_back(std::make_unique<Worker>());
  std::vector<Child> children;
  std::mutex children_mutex;
  std::string connect_error;
  for (unsigned i = 0; i < args.connections; ++i) {
    Worker& w = *workers[i % args.threads];
    std::string why;
    auto s = connect(w.io, target, args.child_stderr, children, children_mutex, why);
    if (!s) {
      connect_error = why;
      break;
    }
    w.conns.push_back(std::make_unique<Conn>(std::move(*s)));
    w.conns.back()->id = i;
    w.tally.latency.reserve(sh.total / args.threads + 16);
  }

  Clock::time_point start, end;
  if (connect_error.empty()) {
    std::barrier sync(static_cast<std::ptrdiff_t>(args.threads), []() noexcept {});
    std::vector<std::thread> threads;
    auto body = [&](unsigned t) {
      Worker& w = *workers[t];
      run_phase(sh, w, false);  // warm-up: spawned children start, caches fill; not measured
      sync.arrive_and_wait();
      if (t == 0) sh.start = start = Clock::now();
      sync.arrive_and_wait();
      run_phase(sh, w, true);
      sync.arrive_and_wait();
      if (t == 0) end = Clock::now();
    };
    for (unsigned t = 1; t < args.threads; ++t) threads.emplace_back(body, t);
    body(0);
    for (auto& th : threads) th.join();
  }

  for (auto& w : workers)
    for (auto& c : w->conns) {
      boost::system::error_code ignore;
      c->socket.close(ignore);
    }
  const unsigned failed_children = reap(children);

  Tally all;
  for (auto& w : workers) {
    Tally& t = w->tally;
    all.latency.insert(all.latency.end(), t.latency.begin(), t.latency.end());
    all.queued.insert(all.queued.end(), t.queued.begin(), t.queued.end());
    all.late.insert(all.late.end(), t.late.begin(), t.late.end());
    for (auto& [word, n] : t.actions) {
      for (std::uint64_t k = 0; k < n; ++k) all.action(word);
    }
    if (t.errors && all.errors == 0) all.first_error = t.first_error;
    all.errors += t.errors;
    all.replies.insert(all.replies.end(), t.replies.begin(), t.replies.end());
  }
  if (!connect_error.empty()) all.error(connect_error);
  const std::uint64_t answered = all.latency.size();
  if (connect_error.empty() && answered < sh.total && all.errors == 0)
    all.error("only " + std::to_string(answered) + " of " + std::to_string(sh.total) + " requests answered");
  if (failed_children) all.error(std::to_string(failed_children) + " spawned children exited with a failure status");

  std::sort(all.latency.begin(), all.latency.end());
  std::sort(all.actions.begin(), all.actions.end(), [](auto& a, auto& b) { return a.second > b.second; });
  const double seconds = std::chrono::duration<double>(end - start).count();
  const double rate = seconds > 0 ? static_cast<double>(answered) / seconds : 0;
  const double p50 = percentile(all.latency, 50), p90 = percentile(all.latency, 90),
               p99 = percentile(all.latency, 99), max = all.latency.empty() ? 0 : all.latency.back() / 10000.0;
  std::string actions;
  for (auto& [word, n] : all.actions) actions += (actions.empty() ? "" : ", ") + word + " " + std::to_string(n);
  std::sort(all.queued.begin(), all.queued.end());
  std::sort(all.late.begin(), all.late.end());
  char lateness[160] = "";
  if (args.rate)
    std::snprintf(lateness, sizeof lateness, "; queued ms p99 %.3f max %.3f; generator late ms p50 %.3f p99 %.3f",
                  percentile(all.queued, 99), all.queued.empty() ? 0.0 : all.queued.back() / 10000.0,
                  percentile(all.late, 50), percentile(all.late, 99));
  const std::string paced = args.rate ? " (paced at " + std::to_string(args.rate) + "/s)" : "";
  std::printf("%s%s: %u connections%s, %" PRIu64 " requests in %.3f s: %.0f requests/s; latency ms p50 %.3f p90 %.3f "
              "p99 %.3f max %.3f%s; actions: %s; errors %" PRIu64 "\n",
              args.label.empty() ? "" : (args.label + ": ").c_str(), args.target.c_str(), args.connections, paced.c_str(), answered,
              seconds, rate, p50, p90, p99, max, lateness, actions.c_str(), all.errors);
  if (!args.json.empty()) {
    std::ofstream j(args.json);
    j << "{\"label\":\"" << json_escape(args.label) << "\",\"mode\":\"load\",\"target\":\"" << json_escape(args.target)
      << "\",\"connections\":" << args.connections << ",\"paced_rate\":" << args.rate << ",\"requests\":" << answered << ",\"seconds\":" << seconds
      << ",\"rate\":" << rate << ",\"p50_ms\":" << p50 << ",\"p90_ms\":" << p90 << ",\"p99_ms\":" << p99
      << ",\"max_ms\":" << max << ",\"queued_p99_ms\":" << percentile(all.queued, 99)
      << ",\"queued_max_ms\":" << (all.queued.empty() ? 0.0 : all.queued.back() / 10000.0)
      << ",\"late_p50_ms\":" << percentile(all.late, 50) << ",\"late_p99_ms\":" << percentile(all.late, 99)
      << ",\"actions\":{";
    bool first = true;
    for (auto& [word, n] : all.actions) {
      j << (first ? "" : ",") << "\"" << json_escape(word) << "\":" << n;
      first = false;
    }
    j << "},\"errors\":" << all.errors << ",\"first_error\":\"" << json_escape(all.first_error) << "\"}\n";
  }
  if (!args.replies.empty()) {
    std::sort(all.replies.begin(), all.replies.end());
    all.replies.erase(std::unique(all.replies.begin(), all.replies.end()), all.replies.end());
    std::ofstream r(args.replies);
    for (auto& [index, action] : all.replies) r << index << '\t' << action << '\n';
  }
  if (all.errors) {
    std::fprintf(stderr, "spfgate-loadgen: FAILED: %s\n", all.first_error.c_str());
    return 1;
  }
  return 0;
}
