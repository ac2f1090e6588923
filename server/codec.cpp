#include "server/codec.hpp"

#include "common/text.hpp"

#include <algorithm>

namespace spfgate::server {

std::string_view to_string(Fault fault) noexcept {
  switch (fault) {
    case Fault::None: return "none";
    case Fault::LineTooLong: return "line too long";
    case Fault::TooManyAttributes: return "too many attributes";
    case Fault::MalformedLine: return "malformed line";
    case Fault::RequestTooLarge: return "request too large";
  }
  return "?";
}

void RequestParser::note(Fault fault, std::string_view excerpt) {
  if (request_.fault != Fault::None) return;  // report the first fault only
  request_.fault = fault;
  request_.fault_detail = loggable(excerpt);
}

void RequestParser::end_line(std::string_view text) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || text.find('\0') != std::string_view::npos) {
    note(Fault::MalformedLine, text);
  } else if (request_.attributes.size() >= limits_.max_attributes) {
    note(Fault::TooManyAttributes, text.substr(0, eq));
  } else {
    // Postfix 3.7 sends 29 attributes: one allocation for all of them instead of six as the vector grows.
    if (request_.attributes.empty()) request_.attributes.reserve(std::min<std::size_t>(limits_.max_attributes, 32));
    request_.attributes.emplace_back(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
}

ParseStatus RequestParser::feed(std::string_view& data) {
  if (fatal_ != Fault::None) return ParseStatus::Fatal;
  while (!data.empty()) {
    const auto lf = data.find('\n');
    const std::size_t take = lf == std::string_view::npos ? data.size() : lf + 1;
    if (request_.bytes + take > limits_.max_request_bytes) {
      fatal_ = Fault::RequestTooLarge;
      return ParseStatus::Fatal;
    }
    request_.bytes += take;
    const std::string_view piece = data.substr(0, lf == std::string_view::npos ? data.size() : lf);
    data.remove_prefix(take);
    if (lf != std::string_view::npos && line_.empty() && !skipping_line_) {
      // The common case: the whole line is in this chunk. Parse it where it is, without copying it.
      if (piece.size() > limits_.max_line_length) {
        note(Fault::LineTooLong, piece.substr(0, 64));
        continue;
      }
      if (piece.empty() || piece == "\r") return ParseStatus::Request;
      end_line(piece);
      continue;
    }
    if (!skipping_line_) {
      if (line_.size() + piece.size() > limits_.max_line_length) {
        // The start of the line, however the peer's bytes were split into reads.
        std::string head = line_.substr(0, 64);
        head.append(piece.substr(0, 64 - head.size()));
        note(Fault::LineTooLong, head);
        line_.clear();
        skipping_line_ = true;
      } else {
        line_.append(piece);
      }
    }
    if (lf == std::string_view::npos) return ParseStatus::NeedMore;
    // A complete line that began in an earlier chunk.
    if (skipping_line_) {
      skipping_line_ = false;
      continue;
    }
    if (line_.empty() || line_ == "\r") {
      line_.clear();
      return ParseStatus::Request;
    }
    end_line(line_);
    line_.clear();
  }
  return ParseStatus::NeedMore;
}

RawRequest RequestParser::take() {
  RawRequest out = std::move(request_);
  request_ = RawRequest{};
  line_.clear();
  skipping_line_ = false;
  return out;
}

std::string format_reply(std::string_view action) {
  std::string reply = "action=";
  // Not trimmed: pypolicyd-spf compatible headers end with one space, and Postfix keeps it.
  reply += sanitize(action, kMaxReplyLine);
  reply += "\n\n";
  return reply;
}

}  // namespace spfgate::server
