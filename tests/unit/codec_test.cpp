#include "server/codec.hpp"

#include <gtest/gtest.h>

using namespace spfgate::server;

namespace {

struct Fed {
  std::vector<RawRequest> requests;
  bool fatal = false;
};

Fed feed_all(RequestParser& p, std::string_view input, std::size_t chunk = 1 << 20) {
  Fed out;
  while (!input.empty()) {
    std::string_view piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    while (!piece.empty()) {
      const auto st = p.feed(piece);
      if (st == ParseStatus::Request) out.requests.push_back(p.take());
      if (st == ParseStatus::Fatal) {
        out.fatal = true;
        return out;
      }
      if (st == ParseStatus::NeedMore) break;
    }
  }
  return out;
}

const std::string kPostfixRequest =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=127.0.0.1\n"
    "client_name=localhost\nhelo_name=client.example.net\nsender=alice@sender.example\n"
    "recipient=dunno@example.test\nqueue_id=\ninstance=4e28.6b044b13.35982.0\nsize=0\n\n";

}  // namespace

TEST(RequestParser, ParsesPostfixRequestsOnOneConnection) {
  RequestParser p({});
  auto fed = feed_all(p, kPostfixRequest + kPostfixRequest);
  ASSERT_EQ(fed.requests.size(), 2u);
  const auto& r = fed.requests[0];
  EXPECT_EQ(r.fault, Fault::None);
  ASSERT_EQ(r.attributes.size(), 11u);
  EXPECT_EQ(r.attributes[0], (spfgate::policy::Attribute{"request", "smtpd_access_policy"}));
  EXPECT_EQ(r.attributes[8], (spfgate::policy::Attribute{"queue_id", ""}));
  EXPECT_EQ(r.bytes, kPostfixRequest.size());
}

TEST(RequestParser, SameResultWhateverTheChunking) {
  for (std::size_t chunk : {1u, 2u, 7u, 64u}) {
    RequestParser p({});
    auto fed = feed_all(p, kPostfixRequest + "a=b\n\n", chunk);
    ASSERT_EQ(fed.requests.size(), 2u) << chunk;
    EXPECT_EQ(fed.requests[0].attributes.size(), 11u);
    EXPECT_FALSE(p.in_request());
  }
}

TEST(RequestParser, ToleratesCrlfAndValuesWithEquals) {
  RequestParser p({});
  auto fed = feed_all(p, "sender=a=b@example.org\r\nhelo_name=x\r\n\r\n");
  ASSERT_EQ(fed.requests.size(), 1u);
  EXPECT_EQ(fed.requests[0].attributes[0].second, "a=b@example.org");
  EXPECT_EQ(fed.requests[0].attributes[1].second, "x");
}

TEST(RequestParser, EmptyRequestIsARequestWithoutAttributes) {
  RequestParser p({});
  auto fed = feed_all(p, "\n");
  ASSERT_EQ(fed.requests.size(), 1u);
  EXPECT_TRUE(fed.requests[0].attributes.empty());
  EXPECT_EQ(fed.requests[0].fault, Fault::None);
}

TEST(RequestParser, MalformedLinesAreReportedButFramingIsKept) {
  RequestParser p({});
  // sizeof - 1: the literal holds a NUL, so its length is not strlen()'s (42 here read past its end: ASan).
  static constexpr char kInput[] = "garbage\nx=1\n\n=novalue\n\nname\0=v\n\nok=1\n\n";
  auto fed = feed_all(p, std::string(kInput, sizeof kInput - 1));
  ASSERT_EQ(fed.requests.size(), 4u);
  EXPECT_EQ(fed.requests[0].fault, Fault::MalformedLine);
  EXPECT_EQ(fed.requests[0].fault_detail, "garbage");
  EXPECT_EQ(fed.requests[1].fault, Fault::MalformedLine);
  EXPECT_EQ(fed.requests[2].fault, Fault::MalformedLine);
  EXPECT_EQ(fed.requests[2].fault_detail, "name?=v");  // NUL sanitised in the log excerpt
  EXPECT_EQ(fed.requests[3].fault, Fault::None);
}

TEST(RequestParser, LongLineIsSkippedToItsEnd) {
  RequestParser p({.max_line_length = 100, .max_attributes = 128, .max_request_bytes = 10000});
  auto fed = feed_all(p, "a=" + std::string(500, 'x') + "\nb=2\n\nc=3\n\n", 33);
  ASSERT_EQ(fed.requests.size(), 2u);
  EXPECT_EQ(fed.requests[0].fault, Fault::LineTooLong);
  ASSERT_EQ(fed.requests[0].attributes.size(), 1u);
  EXPECT_EQ(fed.requests[0].attributes[0].first, "b");
  EXPECT_EQ(fed.requests[1].fault, Fault::None);
}

TEST(RequestParser, TooManyAttributes) {
  RequestParser p({.max_line_length = 100, .max_attributes = 3, .max_request_bytes = 10000});
  auto fed = feed_all(p, "a=1\nb=2\nc=3\nd=4\ne=5\n\n");
  ASSERT_EQ(fed.requests.size(), 1u);
  EXPECT_EQ(fed.requests[0].fault, Fault::TooManyAttributes);
  EXPECT_EQ(fed.requests[0].attributes.size(), 3u);
}

TEST(RequestParser, OversizedRequestIsFatal) {
  RequestParser p({.max_line_length = 100, .max_attributes = 128, .max_request_bytes = 1000});
  std::string big;
  for (int i = 0; i < 100; ++i) big += "name" + std::to_string(i) + "=value\n";
  auto fed = feed_all(p, big);
  EXPECT_TRUE(fed.fatal);
  EXPECT_EQ(p.fatal_fault(), Fault::RequestTooLarge);
  std::string_view more = "x=1\n\n";
  EXPECT_EQ(p.feed(more), ParseStatus::Fatal);  // stays fatal
}

TEST(RequestParser, MemoryStaysBoundedForAnEndlessLine) {
  RequestParser p({.max_line_length = 100, .max_attributes = 128, .max_request_bytes = 1 << 20});
  const std::string chunk(4096, 'z');
  // 200 chunks: 800 KB of one line, skipped as it arrives (the parser keeps at most max_line_length).
  for (int i = 0; i < 200; ++i) {
    std::string_view v = chunk;
    EXPECT_EQ(p.feed(v), ParseStatus::NeedMore);
  }
  EXPECT_TRUE(p.in_request());
  // Past max_request_bytes the connection must go.
  for (int i = 0; i < 100 && p.fatal_fault() == Fault::None; ++i) {
    std::string_view v = chunk;
    p.feed(v);
  }
  EXPECT_EQ(p.fatal_fault(), Fault::RequestTooLarge);
}

TEST(FormatReply, OneLineEndedByAnEmptyLine) {
  EXPECT_EQ(format_reply("DUNNO"), "action=DUNNO\n\n");
  EXPECT_EQ(format_reply("prepend X: a\r\nBcc: evil@example.org"), "action=prepend X: a??Bcc: evil@example.org\n\n");
  EXPECT_EQ(format_reply("prepend Received-SPF: Pass "), "action=prepend Received-SPF: Pass \n\n");
  const std::string r = format_reply("550 5.7.23 " + std::string(2000, 'x'));
  EXPECT_LE(r.size(), 512u + 9);
  EXPECT_EQ(r.substr(r.size() - 2), "\n\n");
  EXPECT_EQ(std::count(r.begin(), r.end(), '\n'), 2);
}
