// fuzz_codec: the policy protocol codec (server/codec.hpp) — RequestParser and format_reply().
//
// Input: three bytes choosing the limits (line length, attribute count, request size), one byte seeding the
// chunk sizes, then the bytes a peer sends. The stream is parsed twice, once in one piece and once cut into
// chunks of varying size (as reads deliver it), and both must give the same requests.
// Invariants: every request honours the limits (attributes, line length, request size) and holds only
// well-formed attributes (non-empty name without '=', no LF and no NUL anywhere); a fault excerpt is clean
// and bounded; after Fatal the parser stays Fatal; the replies built from any value are one clean line.
#include "fuzz_common.hpp"

#include "server/codec.hpp"

#include <algorithm>

using spfgate::server::CodecLimits;
using spfgate::server::Fault;
using spfgate::server::ParseStatus;
using spfgate::server::RawRequest;
using spfgate::server::RequestParser;

namespace {

struct Event {
  bool fatal = false;
  RawRequest request;
};

std::vector<Event> parse(const CodecLimits& limits, std::string_view stream, std::uint8_t seed, bool chunked) {
  RequestParser parser(limits);
  std::vector<Event> events;
  std::uint32_t state = seed * 2654435761u + 1;
  std::size_t consumed = 0;
  while (consumed < stream.size()) {
    std::size_t n = stream.size() - consumed;
    if (chunked) {
      state = state * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (state >> 16) % 97);
    }
    std::string_view chunk = stream.substr(consumed, n);
    consumed += n;
    while (!chunk.empty()) {
      const std::size_t before = chunk.size();
      const ParseStatus status = parser.feed(chunk);
      FUZZ_CHECK(chunk.size() <= before, chunk);
      if (status == ParseStatus::NeedMore) {
        FUZZ_CHECK(chunk.empty(), chunk);  // NeedMore consumes everything it was given
        break;
      }
      if (status == ParseStatus::Fatal) {
        FUZZ_CHECK(parser.fatal_fault() == Fault::RequestTooLarge, stream);
        std::string_view more = "x\n\n";
        FUZZ_CHECK(parser.feed(more) == ParseStatus::Fatal, stream);  // stays fatal
        events.push_back(Event{true, {}});
        return events;
      }
      events.push_back(Event{false, parser.take()});
      FUZZ_CHECK(!parser.in_request(), stream);
    }
  }
  return events;
}

void check_request(const CodecLimits& limits, const RawRequest& r) {
  FUZZ_CHECK(r.attributes.size() <= limits.max_attributes, std::to_string(r.attributes.size()));
  FUZZ_CHECK(r.bytes <= limits.max_request_bytes, std::to_string(r.bytes));
  FUZZ_CHECK(r.bytes >= 1, std::to_string(r.bytes));  // at least the empty line
  for (const auto& [name, value] : r.attributes) {
    FUZZ_CHECK(!name.empty(), value);
    FUZZ_CHECK(name.find('=') == std::string::npos, name);
    FUZZ_CHECK(name.find('\n') == std::string::npos && value.find('\n') == std::string::npos, name + "=" + value);
    FUZZ_CHECK(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos, name + "=" + value);
    // The line, a tolerated trailing CR removed, was within the limit.
    FUZZ_CHECK(name.size() + 1 + value.size() <= limits.max_line_length, name);
    fuzz::check_reply(spfgate::server::format_reply(value));
  }
  if (r.fault == Fault::None) {
    FUZZ_CHECK(r.fault_detail.empty(), r.fault_detail);
  } else {
    FUZZ_CHECK(fuzz::is_clean_text(r.fault_detail), r.fault_detail);
    FUZZ_CHECK(r.fault_detail.size() <= 100, r.fault_detail);
    fuzz::check_reply(spfgate::server::format_reply("DUNNO malformed: " + r.fault_detail));
  }
}

bool same(const RawRequest& a, const RawRequest& b) {
  return a.attributes == b.attributes && a.fault == b.fault && a.fault_detail == b.fault_detail && a.bytes == b.bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  CodecLimits limits;
  limits.max_line_length = 64 + 16 * std::size_t{in.byte()};                 // 64 .. 4144
  limits.max_attributes = 1 + std::size_t{in.byte()} % 64;                     // 1 .. 64
  limits.max_request_bytes = limits.max_line_length + 64 * std::size_t{in.byte()};
  const std::uint8_t seed = in.byte();
  const std::string_view stream = in.rest();

  const auto whole = parse(limits, stream, seed, false);
  const auto pieces = parse(limits, stream, seed, true);
  FUZZ_CHECK(whole.size() == pieces.size(), stream);
  std::size_t total = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(whole[i].fatal == pieces[i].fatal, stream);
    FUZZ_CHECK(same(whole[i].request, pieces[i].request), stream);
    if (!whole[i].fatal) check_request(limits, whole[i].request);
    total += whole[i].request.bytes;
  }
  FUZZ_CHECK(total <= stream.size(), stream);

  // The same stream under the default limits (what the daemon runs with).
  for (const auto& e : parse(CodecLimits{}, stream, seed, true))
    if (!e.fatal) check_request(CodecLimits{}, e.request);

  // Any text as a reply.
  fuzz::check_reply(spfgate::server::format_reply(stream));
  return 0;
}
