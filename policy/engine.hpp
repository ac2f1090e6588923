// policy/engine.hpp: answers one policy request — the whole policy layer behind one call.
//
//   auto engine = Engine::build(settings);                  // at start-up and on every reload
//   Answer a = co_await engine->handle(request, resolver, cache, deadline);
//   write("action=" + a.action); log(a.log_line);
//
// handle() applies, in order: Mock; the per-message cache (a later recipient of a message already
// answered gets the same reject/defer, or the next pending header, or DUNNO); the pipeline of checks;
// decide(); TestOnly (anything but a header becomes DUNNO, and the would-be answer is logged); Prospective
// (headers become DUNNO). It returns exactly one action and the decision log line in pypolicyd-spf's
// format ("[<queue_id>: ]<action>"), so existing log rules keep matching.
//
// An Engine is immutable and shared by all connections; a reload builds a new one while requests in
// flight finish on the old one. The MessageCache and the Resolver outlive engines; the caches of results
// (iprev here, SPF in its check) belong to the engine, so a reload starts them afresh.
// In two parts, for the server's warm path: start() does everything that needs no waiting (Mock, the
// per-message cache, the local checks, every DNS check whose results are cached) and returns the answer
// when that was all, with no coroutine and no timer; otherwise the Work for resume(), which runs the DNS
// checks still to run and decides. handle() is the two together:
//   Engine::Started s = engine->start(request, resolver, cache, deadline);
//   Answer a = s.answer ? std::move(*s.answer) : co_await Engine::resume(request, std::move(s.work));
// The request, resolver and cache must outlive resume(), and so must this Engine (a Per_User engine is
// held by the Work itself).
// Failure: handle() does not throw for anything a peer or DNS can cause.
#pragma once

#include "config/settings.hpp"
#include "policy/config_files.hpp"
#include "policy/decision.hpp"
#include "policy/message_cache.hpp"
#include "policy/per_user_file.hpp"
#include "policy/pipeline.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace spfgate::policy {

struct Answer {
  std::string action;        // after "action=" (sanitised by the codec when written)
  DecisionKind kind = DecisionKind::Dunno;
  std::string log_line;      // info-level decision line; empty: nothing worth logging at info
  std::string details;       // debug-level line: every check's verdict (when asked for)
  std::string deciding_check;
  bool from_cache = false;
  unsigned dns_queries = 0;
};

class Engine {
 public:
  // `files`: those of another Engine built from the same settings (another worker's), so that every
  // worker uses one reading of the helo_access tables and follows one reading of the Per_User file;
  // nullptr reads them afresh (throws config::Error).
  static std::shared_ptr<const Engine> build(std::shared_ptr<const config::Settings> settings,
                                             std::shared_ptr<ConfigFiles> files = nullptr);
  Engine(std::shared_ptr<const config::Settings> settings, Pipeline pipeline, std::shared_ptr<ConfigFiles> files);

  // `details`: fill Answer::details (the caller logs it only at debug level, so it may skip the work).
  boost::asio::awaitable<Answer> handle(const PolicyRequest& request, dns::Resolver& resolver,
                                        MessageCache& cache, dns::Deadline deadline, bool details = true) const;

  // What start() leaves to resume(): the checks still to run and what they share (the request's Evidence).
  struct Work {
    Work(const Engine& engine, dns::Resolver& resolver, std::optional<IpAddress> client, dns::Deadline deadline,
         MessageCache* cache, bool details);
    Work(const Work&) = delete;
    Work& operator=(const Work&) = delete;
    const Engine& engine;                // the one that started it
    std::shared_ptr<const Engine> keep;  // that engine, when it is a Per_User one
    Evidence evidence;
    CheckContext context;                // refers to `evidence`
    Pipeline::Progress progress;
    MessageCache* cache;                 // null for a Per_User engine
    bool details;
  };
  // Exactly one of the two is set.
  struct Started {
    std::optional<Answer> answer;
    std::unique_ptr<Work> work;
  };
  Started start(const PolicyRequest& request, dns::Resolver& resolver, MessageCache& cache, dns::Deadline deadline,
                bool details = true) const;
  static boost::asio::awaitable<Answer> resume(const PolicyRequest& request, std::unique_ptr<Work> work);

  // For `spfgate check`: the same pipeline and decision with tracing on, without the per-message cache
  // and without TestOnly; returns the answer and every verdict (with its trace).
  struct Explanation {
    Answer answer;
    Decision decision;
    std::vector<Verdict> verdicts;
  };
  boost::asio::awaitable<Explanation> explain(const PolicyRequest& request, dns::Resolver& resolver,
                                              dns::Deadline deadline) const;

  // Per_User: the engine for this recipient's settings, or nullptr. Follows the per-user file when it
  // changed (PerUserFile: checked at most once a second, a broken new file logged and the previous table
  // kept); this Engine's per-recipient Engines are built again from the new table.
  std::shared_ptr<const Engine> engine_for(const std::string& recipient) const;
  // The files this Engine was built from, for the other workers' Engines.
  std::shared_ptr<ConfigFiles> files() const { return files_; }
  // The Per_User file this Engine follows (nullptr without Per_User).
  std::shared_ptr<PerUserFile> per_user_file() const { return per_user_ ? per_user_->file : nullptr; }

  const config::Settings& settings() const noexcept { return *settings_; }
  const Pipeline& pipeline() const noexcept { return pipeline_; }

 private:
  Answer finish(const PolicyRequest& request, Decision decision, const std::vector<Verdict>& verdicts,
                MessageCache* cache, bool details) const;
  Started begin(const PolicyRequest& request, dns::Resolver& resolver, MessageCache* cache, dns::Deadline deadline,
              bool details) const;
  // The decision once every verdict is in.
  Answer conclude(const PolicyRequest& request, Work& work) const;
  void use_per_user(const PerUserFile::Snapshot& snapshot) const;
  std::string prefix(const PolicyRequest& request) const;

  std::shared_ptr<const config::Settings> settings_;
  Pipeline pipeline_;
  std::shared_ptr<ConfigFiles> files_;  // shared with the other Engines of this configuration
  // iprev results of recent clients (result-cache-entries); mutable like per_user_ (an Engine serves one
  // worker thread: each has its own), and gone with the configuration. `spfgate check` (explain()) never
  // uses it.
  mutable IprevCache iprev_cache_;
  // Per_User state; mutable because the file is followed while serving (on the Engine's one thread).
  struct PerUser {
    std::shared_ptr<PerUserFile> file;  // shared with the other workers' Engines
    std::uint64_t generation = 0;       // of the table `engines` were built from
    std::map<std::string, std::shared_ptr<const Engine>, std::less<>> engines;
  };
  mutable std::unique_ptr<PerUser> per_user_;
};

// Every check the settings ask for, from every check module (the one place a new check is registered);
// the files they read come from `files`.
std::vector<std::unique_ptr<Check>> make_checks(std::shared_ptr<const config::Settings> settings, ConfigFiles& files);

}  // namespace spfgate::policy
