// Access tables: the files under tests/data/access/ in Postfix syntax, looked up as check_helo_access
// would. Where Postfix's own postmap(1) is installed, AccessTablePostmap also checks that single-key
// lookups agree with it.
#include "config/access_table.hpp"
#include "config/error.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using spfgate::config::AccessAction;
using spfgate::config::AccessMatch;
using spfgate::config::AccessTable;
using spfgate::config::AccessTableOptions;
using spfgate::config::AccessTables;
using spfgate::config::AccessTableType;
using spfgate::config::ActionKind;
using spfgate::config::Error;
using namespace std::string_literals;

const std::string kData = std::string(SPFGATE_TEST_DATA) + "/access/";

std::string action_of(const std::optional<AccessMatch>& m) { return m ? m->action : "<no match>"; }

// The message of the config::Error that loading spec throws, or "<loaded>".
std::string load_error(const std::string& spec, const AccessTableOptions& options = {}) {
  try {
    AccessTable::load(spec, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "<loaded>";
}

// A private directory for generated table files, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string templ = ::testing::TempDir() + "spfgate-access-XXXXXX";
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// --- Indexed tables (hash:, texthash:, ...) ---------------------------------------------------------------

class AccessTableIndexed : public ::testing::Test {
 protected:
  AccessTable table = AccessTable::load("hash:" + kData + "helo_access");
};

TEST_F(AccessTableIndexed, SeedCaseLetsTheMisconfiguredExchangeServerThrough) {
  const auto m = table.lookup_helo("mailsrv02.foo.local");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "PERMIT");
  EXPECT_EQ(m->key, "mailsrv02.foo.local");
  EXPECT_EQ(m->query, "mailsrv02.foo.local");
  EXPECT_EQ(m->file, kData + "helo_access");
  EXPECT_EQ(m->table, "hash:" + kData + "helo_access");
  EXPECT_EQ(m->line, 3);
  EXPECT_EQ(AccessAction::parse(m->action).kind, ActionKind::Ok);

  EXPECT_EQ(action_of(table.lookup_helo("MAILSRV02.FOO.LOCAL")), "PERMIT");
  EXPECT_FALSE(table.lookup_helo("mailsrv03.foo.local"));
}

TEST_F(AccessTableIndexed, FullNameFirstThenParentDomains) {
  auto m = table.lookup_helo("a.good.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "OK");
  EXPECT_EQ(m->query, "good.example.com");
  EXPECT_EQ(m->line, 8);

  m = table.lookup_helo("bad.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "REJECT Go away");
  EXPECT_EQ(m->query, "example.com");

  EXPECT_EQ(action_of(table.lookup_helo("good.example.com")), "OK");
  EXPECT_EQ(action_of(table.lookup_helo("example.com")), "REJECT Go away");
  EXPECT_EQ(action_of(table.lookup_helo("deep.sub.bad.EXAMPLE.com")), "REJECT Go away");
  // Whole labels only, and the name is never shortened from the right.
  EXPECT_FALSE(table.lookup_helo("notexample.com"));
  EXPECT_FALSE(table.lookup_helo("example.com.evil"));
  // lookup() is one lookup of exactly the key, like "postmap -q".
  EXPECT_FALSE(table.lookup("a.good.example.com"));
}

TEST_F(AccessTableIndexed, FoundDunnoStopsTheSearch) {
  const auto m = table.lookup_helo("x.stop.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "DUNNO");  // not example.com's REJECT
  EXPECT_EQ(m->query, "stop.example.com");
  EXPECT_EQ(AccessAction::parse(m->action).kind, ActionKind::Dunno);
}

TEST_F(AccessTableIndexed, KeysAndLookupsAreCaseFolded) {
  const auto m = table.lookup_helo("a.SHOUTY.example.net");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "550 5.7.1 No shouting");
  EXPECT_EQ(m->key, "Shouty.Example.NET");  // as written in the file
  EXPECT_EQ(m->query, "shouty.example.net");
}

TEST_F(AccessTableIndexed, DottedFormOnlyWithoutParentDomainMatching) {
  EXPECT_FALSE(table.lookup_helo("x.dotted.example"));

  AccessTableOptions options;
  options.parent_domain_matches_subdomains = false;
  const auto dotted = AccessTable::load("hash:" + kData + "helo_access", options);
  auto m = dotted.lookup_helo("a.b.dotted.example");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "REJECT dotted form");
  EXPECT_EQ(m->query, ".dotted.example");
  EXPECT_EQ(action_of(dotted.lookup_helo("good.example.com")), "OK");
  // "example.com" no longer covers subdomains.
  EXPECT_FALSE(dotted.lookup_helo("a.good.example.com"));
  EXPECT_FALSE(dotted.lookup_helo("bad.example.com"));
}

TEST_F(AccessTableIndexed, TrailingDotIsKept) {
  EXPECT_EQ(action_of(table.lookup_helo("trailing.example.")), "REJECT trailing dot");
  const auto m = table.lookup_helo("mx.trailing.example.");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->query, "trailing.example.");
  EXPECT_FALSE(table.lookup_helo("trailing.example"));
}

TEST_F(AccessTableIndexed, AddressLiteralsAndNumericalNames) {
  EXPECT_EQ(action_of(table.lookup_helo("[192.0.2.1]")), "REJECT bracketed literal");
  EXPECT_EQ(action_of(table.lookup_helo("192.0.2.2")), "REJECT bare address");
  // A literal is a string to Postfix, parent forms included.
  const auto m = table.lookup_helo("[198.51.100.7]");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "REJECT parent of a literal");
  EXPECT_EQ(m->query, "100.7]");
  // An address (valid_hostaddr()) gets one lookup only; 300.0.2.3 is no address, so its parents count.
  EXPECT_FALSE(table.lookup_helo("192.0.2.3"));
  EXPECT_FALSE(table.lookup_helo("010.0.2.3"));  // leading zeros are fine for valid_hostaddr()
  EXPECT_EQ(action_of(table.lookup_helo("300.0.2.3")), "REJECT parent of a name");
}

TEST_F(AccessTableIndexed, ContinuationLinesSkipCommentsAndBlankLines) {
  const auto m = table.lookup_helo("multi.example");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "REJECT this text    continues here");
  EXPECT_EQ(m->line, 26);
  EXPECT_FALSE(table.lookup("#"));
  EXPECT_FALSE(table.lookup("continues"));
}

TEST_F(AccessTableIndexed, DuplicateKeysKeepTheFirstAndWarn) {
  const auto m = table.lookup_helo("dup.example");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "OK first");
  EXPECT_EQ(m->line, 31);
  EXPECT_EQ(table.warnings(), std::vector<std::string>{kData + "helo_access:32: duplicate entry \"DUP.example\": "
                                                                  "ignored, postmap keeps the first one (line 31)"});
  EXPECT_EQ(table.size(), 13u);
}

TEST_F(AccessTableIndexed, EmptyOrUnsafeHeloMatchesNothing) {
  EXPECT_FALSE(table.lookup_helo(""));
  EXPECT_FALSE(table.lookup_helo("mailsrv02.foo.local\r\n"));
  EXPECT_FALSE(table.lookup_helo(std::string("mailsrv02.foo.local\0x", 21)));
}

TEST(AccessTableSpec, TypesProxyAndBarePaths) {
  const std::string file = kData + "helo_access";
  for (const std::string& spec : {"texthash:" + file, "lmdb:" + file, "cdb:" + file, "btree:" + file,
                                  "dbm:" + file, "proxy:hash:" + file, file, "  hash:" + file + "  "}) {
    const auto t = AccessTable::load(spec);
    EXPECT_EQ(t.type(), AccessTableType::Indexed) << spec;
    EXPECT_EQ(t.path(), file) << spec;
    EXPECT_EQ(action_of(t.lookup_helo("mailsrv02.foo.local")), "PERMIT") << spec;
  }
  EXPECT_EQ(AccessTable::load("  hash:" + file + " ").spec(), "hash:" + file);
  EXPECT_EQ(AccessTable::load("cidr:" + kData + "helo_access.cidr").type(), AccessTableType::Cidr);
  EXPECT_EQ(to_string(AccessTableType::Regexp), "regexp");
}

// --- cidr: --------------------------------------------------------------------------------------------

TEST(AccessTableCidr, FirstMatchNegationAndIfBlocks) {
  const auto t = AccessTable::load("cidr:" + kData + "helo_access.cidr");
  auto m = t.lookup_helo("192.0.2.1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "OK");  // before the /24 below it
  EXPECT_EQ(m->key, "192.0.2.1");
  EXPECT_EQ(m->line, 2);
  EXPECT_EQ(action_of(t.lookup_helo("192.0.2.77")), "REJECT test net");
  EXPECT_EQ(action_of(t.lookup_helo("198.51.100.7")), "REJECT seven");

  m = t.lookup_helo("198.51.100.200");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "REJECT upper half");
  EXPECT_EQ(m->key, "!198.51.100.0/25");
  EXPECT_EQ(m->line, 6);

  // Through the first block without a match, into "if !203.0.113.0/24".
  EXPECT_EQ(action_of(t.lookup_helo("198.51.100.3")), "REJECT other IPv4");
  // Inside 203.0.113.0/24 the block is skipped; the IPv6 patterns do not match IPv4.
  EXPECT_EQ(action_of(t.lookup_helo("203.0.113.5")), "REJECT IPv4 outside the test net");
}

TEST(AccessTableCidr, IPv6MappedAndAddressFamilies) {
  const auto t = AccessTable::load("cidr:" + kData + "helo_access.cidr");
  EXPECT_EQ(action_of(t.lookup_helo("2001:db8::1")), "REJECT documentation IPv6");
  EXPECT_EQ(action_of(t.lookup_helo("2001:DB8:0:0::1")), "REJECT documentation IPv6");
  EXPECT_EQ(action_of(t.lookup_helo("::ffff:203.0.113.9")), "REJECT mapped");
  // Neither "if !203.0.113.0/24" nor "!192.0.2.0/24" matches an IPv6 address.
  const auto m = t.lookup_helo("2001:db9::1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "DUNNO other IPv6");
  EXPECT_EQ(m->line, 18);
}

TEST(AccessTableCidr, OnlyBareAddressesMatch) {
  const auto t = AccessTable::load("cidr:" + kData + "helo_access.cidr");
  for (const char* helo : {"[192.0.2.1]", "[IPv6:2001:db8::1]", "mail.example.com", "192.0.2.1.", " 192.0.2.1"})
    EXPECT_FALSE(t.lookup_helo(helo)) << helo;
}

// --- pcre: --------------------------------------------------------------------------------------------

TEST(AccessTablePcre, FlagsDelimitersAndOrder) {
  const auto t = AccessTable::load("pcre:" + kData + "helo_access.pcre");
  auto m = t.lookup_helo("MAILSRV07.foo.local");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "OK internal Exchange");
  EXPECT_EQ(m->key, "/^mailsrv0[0-9]\\.foo\\.local$/");
  EXPECT_EQ(m->query, "MAILSRV07.foo.local");  // pattern tables see the HELO as sent
  EXPECT_EQ(m->line, 2);

  EXPECT_EQ(action_of(t.lookup_helo("CaseSensitive.example")), "REJECT exact spelling only");
  EXPECT_FALSE(t.lookup_helo("casesensitive.example"));  // i made it case-sensitive; it has a dot
  EXPECT_EQ(action_of(t.lookup_helo("spaced.example")), "REJECT extended syntax");
  EXPECT_EQ(action_of(t.lookup_helo("example.net")), "REJECT anchored");
  EXPECT_FALSE(t.lookup_helo("www.example.net"));
  EXPECT_EQ(action_of(t.lookup_helo("a.b.c.ungreedy.example")), "REJECT first=a second=b.c");
  EXPECT_EQ(action_of(t.lookup_helo("pipe/delim.example")), "OK pipe delimiter");
  m = t.lookup_helo("localhost");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "REJECT single-label HELO");
  EXPECT_EQ(m->key, "!/\\./");
}

TEST(AccessTablePcre, IfBlocksAndSubstitution) {
  const auto t = AccessTable::load("pcre:" + kData + "helo_access.pcre");
  EXPECT_EQ(action_of(t.lookup_helo("mail7.example.org")), "REJECT mail number 7 costs $5");
  EXPECT_EQ(action_of(t.lookup_helo("MX12.Example.ORG")), "REJECT MX number 12 costs $5");
  const auto m = t.lookup_helo("www.example.org");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "DUNNO no mail name");
  EXPECT_EQ(m->line, 9);
  EXPECT_FALSE(t.lookup_helo("mail7.example.com"));  // the if block is skipped
  EXPECT_FALSE(t.lookup_helo(""));                   // "!/\./" would match "", but "" is never looked up
  EXPECT_TRUE(t.warnings().empty());
}

TEST(AccessTablePcre, MatchLimitMakesARuleNotFire) {
  const auto t = AccessTable::load("pcre:" + kData + "backtracking.pcre");
  EXPECT_EQ(action_of(t.lookup_helo("aaaa")), "REJECT nested");
  EXPECT_EQ(action_of(t.lookup_helo("aaaab")), "REJECT not nested");
  EXPECT_EQ(action_of(t.lookup_helo(std::string(40, 'a') + "b")), "OK fallthrough");
}

// --- regexp: ------------------------------------------------------------------------------------------

TEST(AccessTableRegexp, PosixPatternsFlagsAndSubstitution) {
  const auto t = AccessTable::load("regexp:" + kData + "helo_access.regexp");
  auto m = t.lookup_helo("MAIL42.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "REJECT mail 42");
  EXPECT_EQ(m->line, 2);
  EXPECT_EQ(action_of(t.lookup_helo("exact")), "OK exact");
  EXPECT_FALSE(t.lookup_helo("EXACT"));
  EXPECT_EQ(action_of(t.lookup_helo("dyn-10-20.isp.example")), "REJECT dynamic 10.20");
  EXPECT_FALSE(t.lookup_helo("dyn-10-20.example.org"));  // "if !/\.example\.org$/" skips its block
  EXPECT_EQ(action_of(t.lookup_helo("ac.example")), "REJECT [a][]");  // an unset group is empty
  EXPECT_EQ(action_of(t.lookup_helo("abc.example")), "REJECT [a][b]");
  m = t.lookup_helo("host.invalid");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->action, "REJECT invalid but not ok");
  EXPECT_EQ(m->key, "/\\.invalid$/!/^ok\\./");
  EXPECT_FALSE(t.lookup_helo("ok.host.invalid"));
}

TEST(AccessTableRegexp, PatternsThatWouldExhaustMemoryAreRefused) {
  // Found by fuzz_access_table: glibc's regcomp() copies what a repetition repeats, so stacked or nested
  // repetitions want gigabytes. Ordinary patterns, lazy-looking ".*?" included, still load.
  TempDir dir;
  const std::string stacked = dir.write("stacked.regexp", "/^mail\\.exampl" + std::string(100, '+') + "e$/ REJECT\n");
  EXPECT_EQ(load_error("regexp:" + stacked),
            stacked + ":1: regex too large: its repetitions (stacked, or nested with large counts) would make "
                      "regcomp() build more than 100000 nodes; simplify it or use a pcre: table");
  const std::string nested = dir.write("nested.regexp", "/((a{99}){99}){99}/ REJECT\n");
  EXPECT_NE(load_error("regexp:" + nested).find("regex too large"), std::string::npos);
  const std::string basic = dir.write("basic.regexp", "/\\(\\(a\\{99\\}\\)\\{99\\}\\)\\{99\\}/x REJECT\n");
  EXPECT_NE(load_error("regexp:" + basic).find("regex too large"), std::string::npos);
  const std::string fine = dir.write("fine.regexp",
                                     "/^(mail|mx)[0-9]{1,3}\\.example\\.com$/ OK\n/^dyn-.*?\\.[a-z]+$/ REJECT\n"
                                     "/^[[:alpha:]]{1,63}(\\.[a-z0-9-]{1,63}){1,4}$/ DUNNO\n/\\(x\\){500}/ REJECT\n");
  const auto t = AccessTable::load("regexp:" + fine);
  EXPECT_EQ(action_of(t.lookup_helo("mx12.example.com")), "OK");
  EXPECT_EQ(action_of(t.lookup_helo("dyn-1.isp")), "REJECT");
}

// --- Several tables -----------------------------------------------------------------------------------

TEST(AccessTables, FirstTableWithAMatchWins) {
  const std::string hash = "hash:" + kData + "helo_access";
  const std::string pcre = "pcre:" + kData + "helo_access.pcre";
  const auto tables = AccessTables::load({pcre, hash});
  EXPECT_EQ(action_of(tables.lookup_helo("mailsrv02.foo.local")), "OK internal Exchange");
  EXPECT_EQ(action_of(AccessTables::load({hash, pcre}).lookup_helo("mailsrv02.foo.local")), "PERMIT");

  const auto all = tables.lookup_helo_all("mailsrv02.foo.local");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].table, pcre);
  EXPECT_EQ(all[1].table, hash);
  EXPECT_EQ(all[1].action, "PERMIT");

  EXPECT_EQ(action_of(tables.lookup_helo("bad.example.com")), "REJECT Go away");  // only the hash table
  EXPECT_FALSE(tables.lookup_helo("nothing.invalid"));
  EXPECT_EQ(tables.warnings().size(), 1u);  // the duplicate key
  EXPECT_FALSE(AccessTables{}.lookup_helo("mailsrv02.foo.local"));
}

// --- Load errors and warnings -------------------------------------------------------------------------

TEST(AccessTableErrors, EachFaultNamesFileLineAndCause) {
  const std::string e = kData + "errors/";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hash:" + e + "no-action",
       e + "no-action:3: no action for \"lonely.example\" (expected format: key whitespace action)"},
      {"hash:" + e + "leading-whitespace",
       e + "leading-whitespace:2: line starts with whitespace, which continues the entry before it, but there "
           "is none"},
      {"cidr:" + e + "hostbits.cidr",
       e + "hostbits.cidr:2: non-null host address bits in \"192.0.2.1/24\", perhaps you should use "
           "\"192.0.2.0/24\" instead"},
      {"cidr:" + e + "hostbits6.cidr",
       e + "hostbits6.cidr:2: non-null host address bits in \"2001:db8::1/32\", perhaps you should use "
           "\"2001:db8::/32\" instead"},
      {"cidr:" + e + "mask.cidr", e + "mask.cidr:2: bad mask length in \"198.51.100.0/33\""},
      {"cidr:" + e + "address.cidr", e + "address.cidr:2: bad address pattern: \"192.0.2\""},
      {"cidr:" + e + "no-action.cidr", e + "no-action.cidr:2: no action after \"192.0.2.1\""},
      {"cidr:" + e + "endif.cidr", e + "endif.cidr:3: ENDIF without IF"},
      {"cidr:" + e + "unclosed-if.cidr", e + "unclosed-if.cidr:2: IF has no matching ENDIF"},
      {"pcre:" + e + "regex.pcre", e + "regex.pcre:2: error in regex at offset 20: missing closing parenthesis"},
      {"pcre:" + e + "flag.pcre", e + "flag.pcre:2: unknown regexp option \"q\""},
      {"pcre:" + e + "delimiter.pcre", e + "delimiter.pcre:2: no closing regexp delimiter \"/\""},
      {"pcre:" + e + "group.pcre", e + "group.pcre:2: out of range replacement index \"1\" (the pattern has 0 groups)"},
      {"pcre:" + e + "negative.pcre", e + "negative.pcre:2: $number found in negative match replacement text"},
      {"pcre:" + e + "dollar.pcre",
       e + "dollar.pcre:2: bad replacement syntax: empty macro name in \"REJECT costs $\""},
      {"pcre:" + e + "if-text.pcre",
       e + "if-text.pcre:2: text after the IF statement: \"/^mail\\./           REJECT\" (a line that starts with "
           "whitespace continues the line before it; do not indent the rules inside if..endif)"},
      {"pcre:" + e + "endif.pcre", e + "endif.pcre:3: ENDIF without matching IF"},
      {"pcre:" + e + "unclosed-if.pcre", e + "unclosed-if.pcre:2: IF has no matching ENDIF"},
      {"pcre:" + e + "no-action.pcre", e + "no-action.pcre:2: no action after \"/^mail\\.example$/\""},
      {"pcre:" + e + "unrecognized.pcre",
       e + "unrecognized.pcre:2: unrecognized line (expected /pattern/flags action, if /pattern/, or endif)"},
      {"regexp:" + e + "regex.regexp", e + "regex.regexp:2: error in regex: Unmatched ( or \\("},
      {"regexp:" + e + "nonnumeric.regexp", e + "nonnumeric.regexp:2: non-numeric replacement index \"x\""},
      {"regexp:" + e + "truncated.regexp",
       e + "truncated.regexp:2: bad replacement syntax: truncated macro reference in \"REJECT ${1\""},
      {"regexp:" + e + "zero.regexp", e + "zero.regexp:2: out of range replacement index \"0\""},
      {"hash:" + e + "missing", e + "missing: cannot open access table: No such file or directory"},
  };
  for (const auto& [spec, message] : cases) EXPECT_EQ(load_error(spec), message) << spec;
}

TEST(AccessTableErrors, ControlCharactersEncodingSizeAndFileType) {
  TempDir dir;
  const std::string nul = dir.write("nul", "ok.example OK\nbad.example REJECT\0hidden\n"s);
  EXPECT_EQ(load_error("hash:" + nul), nul + ":2: NUL character in line");
  // CRLF line endings (a file edited on Windows) load, as in Postfix.
  const std::string crlf = dir.write("crlf", "# written on Windows\r\nok.example OK\r\n");
  EXPECT_EQ(AccessTable::load("hash:" + crlf).lookup_helo("ok.example")->action, "OK");
  const std::string cr_value = dir.write("cr-value.pcre", "/^x$/ REJECT a\rb\n");
  EXPECT_EQ(load_error("pcre:" + cr_value),
            cr_value + ":1: carriage return (CR) inside a line");
  const std::string latin1 = dir.write("latin1", "ok.example OK\n\n# comments may be anything: \xe9\n"
                                                 "bad.example REJECT Zugriff verweigert f\xfcr Sie\n");
  EXPECT_EQ(load_error("hash:" + latin1),
            latin1 + ":4: line is not valid UTF-8 (Postfix with smtputf8_enable=yes ignores such an entry); "
                     "convert the file to UTF-8");
  const std::string utf8 = dir.write("utf8", "ok.example REJECT Zugriff verweigert f\xc3\xbcr Sie\n");
  EXPECT_EQ(action_of(AccessTable::load(utf8).lookup_helo("ok.example")), "REJECT Zugriff verweigert f\xc3\xbcr Sie");

  AccessTableOptions small;
  small.max_file_bytes = 10;
  const std::string big = dir.write("big", "ok.example OK\n");
  EXPECT_EQ(load_error("hash:" + big, small), big + ": access table is larger than 10 bytes");
  EXPECT_EQ(load_error("cidr:" + dir.path()), dir.path() + ": access table is not a regular file");
}

TEST(AccessTableErrors, TableSpecs) {
  EXPECT_EQ(load_error(""), "access table \"\": empty table name");
  EXPECT_EQ(load_error("hash:"), "access table \"hash:\": no file name after 'hash:'");
  EXPECT_EQ(load_error("foo:/etc/postfix/x"), "access table \"foo:/etc/postfix/x\": unknown table type 'foo'");
  EXPECT_EQ(load_error("ldap:/etc/postfix/ldap-helo.cf"),
            "access table \"ldap:/etc/postfix/ldap-helo.cf\": table type 'ldap' is not supported; spfgate reads "
            "the source files of hash, btree, lmdb, cdb, dbm, sdbm, texthash, cidr, pcre and regexp tables");
  EXPECT_EQ(load_error("cidr:{ {192.0.2.1 OK} }"),
            "access table \"cidr:{ {192.0.2.1 OK} }\": inline tables are not supported; put the rules in a file "
            "and name that file");
}

TEST(AccessTableWarnings, ActionsPostfixWouldRefuse) {
  const std::string w = kData + "warnings";
  const auto t = AccessTable::load("hash:" + w);
  const std::vector<std::string> expected = {
      w + ":2: record is in \"key: value\" format; is this an alias file?",
      w + ":3: action \"FROBNICATE now\": Postfix treats \"FROBNICATE\" as an smtpd restriction name; unless it "
          "is a restriction class (smtpd_restriction_classes), Postfix logs \"unknown smtpd restriction\" and "
          "answers 451 4.3.5 Server configuration error",
      w + ":4: action \"FILTER smtp\": FILTER requires transport:destination; Postfix logs a warning and "
          "ignores it",
      w + ":5: action \"REDIRECT postmaster\": REDIRECT requires user@domain; Postfix logs a warning and "
          "ignores it",
      w + ":6: action \"PREPEND no header here\": PREPEND requires header: text; Postfix logs a warning and "
          "ignores it",
      w + ":7: action \"check_helo_access hash:/etc/postfix/other_access\": Postfix refuses a lookup table in "
          "an access table result and answers 451 4.3.5 Server configuration error",
  };
  EXPECT_EQ(t.warnings(), expected);
  // A warning does not drop the entry.
  EXPECT_EQ(action_of(t.lookup_helo("frobnicate.example")), "FROBNICATE now");
  EXPECT_EQ(action_of(t.lookup_helo("rbl.example")), "reject_rhsbl_helo dbl.example.org");

  const std::string wp = kData + "warnings.pcre";
  const auto pcre = AccessTable::load("pcre:" + wp);
  const std::vector<std::string> expected_pcre = {
      wp + ":3: ignoring extra text after IF statement: \"# example hosts\"",
      wp + ":4: ignoring obsolete regexp option \"X\"",
      wp + ":5: ignoring extra text after ENDIF: \"# example hosts\"",
  };
  EXPECT_EQ(pcre.warnings(), expected_pcre);
  EXPECT_EQ(action_of(pcre.lookup_helo("X.example")), "OK");
  EXPECT_FALSE(pcre.lookup_helo("y.example"));
}

// --- Actions ------------------------------------------------------------------------------------------

TEST(AccessAction, AcceptForms) {
  for (const char* text : {"OK", "ok trailing text", "RELAY", "1700000000", "550", "", "PERMIT", "permit, reject"}) {
    const auto a = AccessAction::parse(text);
    EXPECT_EQ(a.kind, ActionKind::Ok) << text;
  }
  EXPECT_EQ(AccessAction::parse("ok trailing text").text, "trailing text");
  EXPECT_EQ(AccessAction::parse("ok trailing text").command, "ok");
  EXPECT_EQ(AccessAction::parse("permit_mynetworks").kind, ActionKind::Restriction);
}

TEST(AccessAction, RejectsWithCodeDsnAndText) {
  auto a = AccessAction::parse("REJECT");
  EXPECT_EQ(a.kind, ActionKind::Reject);
  EXPECT_EQ(a.dsn, "5.7.1");
  EXPECT_EQ(a.text, "");
  EXPECT_EQ(a.reply_text(), "Access denied");

  a = AccessAction::parse("reject\t5.7.26  SPF says no");
  EXPECT_EQ(a.kind, ActionKind::Reject);
  EXPECT_EQ(a.command, "reject");
  EXPECT_EQ(a.dsn, "5.7.26");
  EXPECT_EQ(a.text, "SPF says no");

  a = AccessAction::parse("REJECT 5.7.1234 not a DSN");  // at most three digits per part
  EXPECT_EQ(a.dsn, "5.7.1");
  EXPECT_EQ(a.text, "5.7.1234 not a DSN");

  a = AccessAction::parse("550 5.7.23 SPF validation failed");
  EXPECT_EQ(a.kind, ActionKind::SmtpReply);
  EXPECT_EQ(a.code, 550);
  EXPECT_EQ(a.dsn, "5.7.23");
  EXPECT_EQ(a.text, "SPF validation failed");

  a = AccessAction::parse("421 Go away");
  EXPECT_EQ(a.kind, ActionKind::SmtpReply);
  EXPECT_EQ(a.code, 421);
  EXPECT_EQ(a.dsn, "4.7.1");
  EXPECT_EQ(a.text, "Go away");

  a = AccessAction::parse("550 5.7.1");
  EXPECT_EQ(a.kind, ActionKind::SmtpReply);
  EXPECT_EQ(a.reply_text(), "Access denied");

  a = AccessAction::parse("DEFER");
  EXPECT_EQ(a.kind, ActionKind::Defer);
  EXPECT_EQ(a.dsn, "4.7.1");
  EXPECT_EQ(a.reply_text(), "Access denied");

  a = AccessAction::parse("DEFER_IF_PERMIT 4.7.24 SPF temp error");
  EXPECT_EQ(a.kind, ActionKind::DeferIfPermit);
  EXPECT_EQ(a.dsn, "4.7.24");
  EXPECT_EQ(a.text, "SPF temp error");
  EXPECT_EQ(AccessAction::parse("defer_if_reject").reply_text(), "Service unavailable");
  EXPECT_EQ(AccessAction::parse("defer_if_reject").kind, ActionKind::DeferIfReject);

  // Not a 4NN/5NN reply: Postfix sees restriction names and answers 451 4.3.5.
  for (const char* text : {"650 6.0.0 nope", "55 short", "5500 long", "45x text"}) {
    a = AccessAction::parse(text);
    EXPECT_EQ(a.kind, ActionKind::Restriction) << text;
    EXPECT_FALSE(a.problem().empty()) << text;
  }
}

TEST(AccessAction, OtherKeywords) {
  const std::vector<std::pair<std::string, ActionKind>> cases = {
      {"DUNNO", ActionKind::Dunno},
      {"dunno ignored text", ActionKind::Dunno},
      {"PREPEND X-Helo-Check: listed", ActionKind::Prepend},
      {"WARN listed HELO", ActionKind::Warn},
      {"INFO listed", ActionKind::Info},
      {"HOLD", ActionKind::Hold},
      {"DISCARD spam", ActionKind::Discard},
      {"FILTER smtp:[127.0.0.1]:10025", ActionKind::Filter},
      {"REDIRECT postmaster@example.com", ActionKind::Redirect},
      {"BCC audit@example.com", ActionKind::Bcc},
      {"HANGUP", ActionKind::Hangup},
      {"reject_unknown_helo_hostname", ActionKind::Restriction},
      {"warn_if_reject reject_non_fqdn_helo_hostname", ActionKind::Restriction},
      {"reject_rbl_client zen.example.org, reject_unknown_helo_hostname", ActionKind::Restriction},
  };
  for (const auto& [text, kind] : cases) {
    const auto a = AccessAction::parse(text);
    EXPECT_EQ(a.kind, kind) << text;
    EXPECT_EQ(a.problem(), "") << text;
  }
  EXPECT_EQ(AccessAction::parse("PREPEND X-Helo-Check: listed").text, "X-Helo-Check: listed");
  EXPECT_EQ(AccessAction::parse("reject_unknown_helo_hostname").text, "reject_unknown_helo_hostname");
  EXPECT_NE(AccessAction::parse("BCC nobody").problem(), "");
}

TEST(AccessAction, KindNames) {
  EXPECT_EQ(to_string(ActionKind::Ok), "OK");
  EXPECT_EQ(to_string(ActionKind::Dunno), "DUNNO");
  EXPECT_EQ(to_string(ActionKind::Reject), "REJECT");
  EXPECT_EQ(to_string(ActionKind::Defer), "DEFER");
  EXPECT_EQ(to_string(ActionKind::DeferIfReject), "DEFER_IF_REJECT");
  EXPECT_EQ(to_string(ActionKind::DeferIfPermit), "DEFER_IF_PERMIT");
  EXPECT_EQ(to_string(ActionKind::SmtpReply), "SMTP_REPLY");
  EXPECT_EQ(to_string(ActionKind::Prepend), "PREPEND");
  EXPECT_EQ(to_string(ActionKind::Warn), "WARN");
  EXPECT_EQ(to_string(ActionKind::Info), "INFO");
  EXPECT_EQ(to_string(ActionKind::Hold), "HOLD");
  EXPECT_EQ(to_string(ActionKind::Discard), "DISCARD");
  EXPECT_EQ(to_string(ActionKind::Filter), "FILTER");
  EXPECT_EQ(to_string(ActionKind::Redirect), "REDIRECT");
  EXPECT_EQ(to_string(ActionKind::Bcc), "BCC");
  EXPECT_EQ(to_string(ActionKind::Hangup), "HANGUP");
  EXPECT_EQ(to_string(ActionKind::Restriction), "RESTRICTION");
}

// --- Agreement with Postfix's postmap(1) --------------------------------------------------------------

// "postmap -q key table" with a throw-away configuration directory: the result, or nullopt when postmap
// says "not found" (exit status 1).
std::optional<std::string> postmap_query(const std::string& config_dir, const std::string& table,
                                         const std::string& key) {
  if (key.find('\'') != std::string::npos || table.find('\'') != std::string::npos)
    throw std::invalid_argument("quote in postmap argument");
  const std::string command =
      "/usr/sbin/postmap -c '" + config_dir + "' -q '" + key + "' '" + table + "' 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed");
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 1) return std::nullopt;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("postmap failed: " + command);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST(AccessTablePostmap, SingleLookupsAgreeWithPostfix) {
  if (::access("/usr/sbin/postmap", X_OK) != 0) GTEST_SKIP() << "Postfix's postmap is not installed";
  TempDir dir;
  dir.write("main.cf", "compatibility_level = 3.6\n");
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"texthash:" + kData + "helo_access",
       {"mailsrv02.foo.local", "MAILSRV02.FOO.LOCAL", "mailsrv03.foo.local", "example.com", "a.good.example.com",
        "good.example.com", "stop.example.com", "shouty.example.net", "SHOUTY.example.NET", ".dotted.example",
        "trailing.example.", "trailing.example", "[192.0.2.1]", "192.0.2.2", "100.7]", "multi.example",
        "dup.example"}},
      {"cidr:" + kData + "helo_access.cidr",
       {"192.0.2.1", "192.0.2.77", "198.51.100.7", "198.51.100.200", "198.51.100.3", "203.0.113.5", "2001:db8::1",
        "2001:DB8:0:0::1", "::ffff:203.0.113.9", "2001:db9::1", "[192.0.2.1]", "mail.example.com", "192.0.2.1.",
        "01.2.3.4"}},
      {"regexp:" + kData + "helo_access.regexp",
       {"MAIL42.example.com", "exact", "EXACT", "dyn-10-20.isp.example", "dyn-10-20.example.org", "ac.example",
        "abc.example", "host.invalid", "ok.host.invalid"}},
  };
  for (const auto& [spec, keys] : cases) {
    const auto table = AccessTable::load(spec);
    for (const std::string& key : keys) {
      const auto ours = table.lookup(key);
      const auto theirs = postmap_query(dir.path(), spec, key);
      EXPECT_EQ(ours ? std::optional<std::string>(ours->action) : std::nullopt, theirs) << spec << " " << key;
    }
  }
}

}  // namespace
