// server/jemalloc_conf.cpp: jemalloc's options for the daemon (compiled in only when it links jemalloc;
// jemalloc reads this symbol at the first allocation).
//
// narenas:1 — one arena for every thread instead of four per core. The request path allocates from each
// thread's cache (tcache), which needs no arena lock; what the arenas decide is how much freed memory
// can be reused across threads. With one arena, memory the libunbound thread and the workers free is
// one pool: when every cached TTL runs out at once and hundreds of lookups are validated together, the
// peak RSS was 29.6-29.8 MB instead of 30.5 MB (the same run on a quiet host), and 0.5 MB less in steady
// state, throughput unchanged within the host's noise (tests/bench/README.md). MALLOC_CONF in the environment overrides it (e.g.
// MALLOC_CONF=narenas:8 on a many-core machine running many `threads`).
extern "C" {
// As jemalloc(3) declares it; the name is the one it looks for.
const char* malloc_conf = "narenas:1";  // NOLINT
}
