// server/codec.hpp: the Postfix policy protocol on the wire.
//
//   RequestParser parser(limits);
//   while (data arrives) {
//     std::string_view chunk = ...;
//     while (!chunk.empty()) {
//       switch (parser.feed(chunk)) {           // consumes from the front of `chunk`
//         case ParseStatus::NeedMore: break;     // chunk is now empty
//         case ParseStatus::Request: handle(parser.take()); break;
//         case ParseStatus::Fatal: close();      // framing lost: parser.fault() says why
//       }
//     }
//   }
//   write(format_reply("DUNNO"));               // "action=DUNNO\n\n"
//
// A request is "name=value" lines ended by LF, then an empty line (reference postfix-and-peers §1.1).
// A trailing CR is tolerated (hand-made input). Limits bound memory: an over-long line is skipped to its
// LF, attributes beyond the count limit are dropped; such a request still ends at its empty line and is
// returned with a Fault so the caller can answer it with its malformed-request reply. A request whose total
// size exceeds max_request_bytes is Fatal: the connection must be closed. Nothing is ever written back by
// the parser; the reply text is built by format_reply() from a sanitised action.
//
// Failure: never throws (except std::bad_alloc). Memory held per connection is at most about
// max_request_bytes.
#pragma once

#include "policy/request.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::server {

struct CodecLimits {
  std::size_t max_line_length = 16384;    // bytes in one "name=value" line, LF excluded
  std::size_t max_attributes = 128;       // Postfix 3.7 sends 29
  std::size_t max_request_bytes = 65536;  // whole request including LFs
};

enum class Fault {
  None,
  LineTooLong,        // a line over max_line_length (skipped)
  TooManyAttributes,  // more than max_attributes (the rest dropped)
  MalformedLine,      // no '=', an empty name, or a NUL byte
  RequestTooLarge,    // Fatal: over max_request_bytes
};
std::string_view to_string(Fault fault) noexcept;

enum class ParseStatus { NeedMore, Request, Fatal };

struct RawRequest {
  std::vector<policy::Attribute> attributes;
  Fault fault = Fault::None;   // the first fault seen in this request
  std::string fault_detail;    // sanitised excerpt of the offending line, for the log
  std::size_t bytes = 0;       // request size on the wire
};

class RequestParser {
 public:
  explicit RequestParser(CodecLimits limits) : limits_(limits) {}

  ParseStatus feed(std::string_view& data);
  // The request completed by the last feed() that returned Request; resets for the next one.
  RawRequest take();
  // True while a request has started (some bytes of it were read) but is not complete.
  bool in_request() const noexcept { return request_.bytes > 0; }
  Fault fatal_fault() const noexcept { return fatal_; }

 private:
  void end_line(std::string_view text);
  void note(Fault fault, std::string_view excerpt);

  CodecLimits limits_;
  RawRequest request_;
  std::string line_;
  bool skipping_line_ = false;  // inside an over-long line: drop bytes until LF
  Fault fatal_ = Fault::None;
};

// "action=<text>\n\n", with <text> sanitised (no CR/LF/NUL, valid UTF-8) and bounded to an SMTP reply line.
std::string format_reply(std::string_view action);

}  // namespace spfgate::server
