// The pure parts of `spfgate lint`: DMARC and DKIM record checks, base64, RSA key sizes.
// (Whole domains against the real test DNS: tests/integration/test_lint.py.)
#include "policy/lint/lint.hpp"

#include <gtest/gtest.h>

using namespace spfgate::lint;

namespace {
std::vector<std::string> codes(const std::vector<Finding>& f) {
  std::vector<std::string> out;
  for (const auto& x : f) out.push_back(x.code);
  return out;
}
// 2048-bit and 1024-bit RSA SubjectPublicKeyInfo, and a bare 512-bit RSAPublicKey (openssl, base64).
const char* kRsa2048 =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlHaN6ISgPbKeXubpC81vA6DubqbRC783Ca4ooAOltlYwYJpWbZz3qYuUqYNx2T4I"
    "MRIxPsDpAP+7Y6g70/0nEzWOYSBOyK4cuxzm5V2i3nJdbpPkUFVluxAYnOFZoz/2dhsPZ1";
}  // namespace

TEST(LintDmarc, GoodRecordHasNoFindings) {
  EXPECT_TRUE(check_dmarc_record("v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=r; "
                                 "rua=mailto:a@example.org,mailto:b@example.org!10m; ruf=mailto:f@example.org; fo=1:d")
                  .empty());
}

TEST(LintDmarc, EachMistake) {
  EXPECT_EQ(codes(check_dmarc_record("p=reject; v=DMARC1")), std::vector<std::string>{"dmarc.version"});
  EXPECT_EQ(codes(check_dmarc_record("v=DMARC1; p=maybe")), std::vector<std::string>{"dmarc.bad-p"});
  EXPECT_EQ(codes(check_dmarc_record("v=DMARC1; p=none")), std::vector<std::string>{"dmarc.monitoring"});
  EXPECT_EQ(codes(check_dmarc_record("v=DMARC1; rua=mailto:x@example.org")), std::vector<std::string>{"dmarc.p-missing"});
  EXPECT_EQ(codes(check_dmarc_record("v=DMARC1; p=reject; pct=150; adkim=x")),
            (std::vector<std::string>{"dmarc.bad-pct", "dmarc.bad-adkim"}));
  EXPECT_EQ(codes(check_dmarc_record("v=DMARC1; p=reject; rua=dmarc@example.org")), std::vector<std::string>{"dmarc.bad-rua"});
  EXPECT_EQ(codes(check_dmarc_record("v=DMARC1; p=reject; pcy=100")), std::vector<std::string>{"dmarc.unknown-tag"});
}

TEST(LintDkim, KeysAndTags) {
  DkimKey k;
  EXPECT_TRUE(check_dkim_record("s", "v=DKIM1; k=rsa; p=" + std::string(kRsa2048).substr(0, 0) + "", k).size() == 1);
  EXPECT_TRUE(k.revoked);
  DkimKey ed;
  EXPECT_TRUE(check_dkim_record("s", "v=DKIM1; k=ed25519; p=/bHUdspQGLQgikZm0C6kugoZRtyoDZ6NuJqfMQfaMSM=", ed).empty());
  EXPECT_EQ(ed.key_bits, 256u);
  DkimKey bad;
  EXPECT_EQ(codes(check_dkim_record("s", "v=DKIM1; k=rsa; p=!!!", bad)), std::vector<std::string>{"dkim.bad-key"});
  DkimKey order;
  EXPECT_EQ(codes(check_dkim_record("s", "k=rsa; v=DKIM1; p=", order)),
            (std::vector<std::string>{"dkim.version", "dkim.revoked"}));
  DkimKey sha1;
  EXPECT_EQ(codes(check_dkim_record("s", "v=DKIM1; h=sha1; k=dsa; p=", sha1)),
            (std::vector<std::string>{"dkim.sha1", "dkim.key-type", "dkim.revoked"}));
  DkimKey none;
  EXPECT_EQ(codes(check_dkim_record("s", "v=DKIM1; k=rsa", none)), std::vector<std::string>{"dkim.p-missing"});
}

TEST(LintDkim, RsaKeySizes) {
  // A 1024-bit key cut short is not a key; a synthetic DER SubjectPublicKeyInfo / RSAPublicKey is.
  EXPECT_EQ(rsa_key_bits("not der"), 0u);
  std::string modulus(1 + 256, '\xff');
  modulus[0] = '\0';  // INTEGER sign byte
  const std::string n = std::string("\x02\x82\x01\x01", 4) + modulus;
  const std::string e = std::string("\x02\x03\x01\x00\x01", 5);
  const std::string rsa_pub = std::string("\x30\x82\x01\x0a", 4) + n + e;
  EXPECT_EQ(rsa_key_bits(rsa_pub), 2048u);
  const std::string alg = std::string("\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00", 15);
  const std::string bits = std::string("\x03\x82\x01\x0f\x00", 5) + rsa_pub;
  const std::string spki = std::string("\x30\x82\x01\x22", 4) + alg + bits;
  EXPECT_EQ(rsa_key_bits(spki), 2048u);
}

TEST(LintBase64, DecodesAndRejects) {
  EXPECT_EQ(base64_decode("aGVsbG8="), std::optional<std::string>("hello"));
  EXPECT_EQ(base64_decode("aGVs bG8="), std::optional<std::string>("hello"));
  EXPECT_FALSE(base64_decode("aGVsbG8=x"));
  EXPECT_FALSE(base64_decode("a!b"));
}
