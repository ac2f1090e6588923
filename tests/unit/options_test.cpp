#include "config/error.hpp"
#include "config/options.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace spfgate::config;

namespace {

std::string write_config(const std::string& text) {
  static int n = 0;
  const auto path = std::filesystem::temp_directory_path() /
                    ("spfgate-options-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".conf");
  std::ofstream(path) << text;
  return path.string();
}

std::string error_of(const std::vector<std::string>& args) {
  try {
    load(args);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Options, DebianShippedConfigLoadsUnchanged) {
  const Loaded l = load_file(SPFGATE_TEST_DATA "/config/debian-policyd-spf.conf");
  const Settings& s = l.settings;
  EXPECT_EQ(s.debug_level, 1);
  EXPECT_FALSE(s.test_only);
  EXPECT_EQ(s.helo_reject, RejectPolicy::Fail);
  EXPECT_EQ(s.mail_from_reject, RejectPolicy::Fail);
  EXPECT_FALSE(s.permerror_reject);
  EXPECT_FALSE(s.temperror_defer);
  ASSERT_EQ(s.skip_addresses.size(), 3u);
  EXPECT_EQ(s.skip_addresses[1].to_string(), "::ffff:127.0.0.0/104");
}

TEST(Options, DefaultsMatchPypolicydSpf) {
  const Settings s = load({}).settings;
  EXPECT_EQ(s.lookup_time, std::chrono::seconds(20));
  EXPECT_EQ(s.whitelist_lookup_time, std::chrono::seconds(10));
  EXPECT_EQ(s.void_limit, 2u);
  EXPECT_TRUE(s.enhanced_status_codes);
  EXPECT_TRUE(s.header_type.spf);
  EXPECT_FALSE(s.header_type.ar);
  EXPECT_FALSE(s.hide_receiver);
  EXPECT_FALSE(s.mock);
  EXPECT_EQ(s.skip_addresses.size(), 3u);
}

TEST(Options, PypolicydQuirksWeDoBetter) {
  const std::string path = write_config(
      "Reason_Message = Rejected: {spf} see a=b\n"        // '=' in a value (pypolicyd-spf: error)
      "Whitelist = 198.51.100.0/28, 203.0.113.99\n"       // space after comma (pypolicyd-spf: list broken)
      "PermError_reject = true\n"                          // lower case (pypolicyd-spf: silently off)
      "Mock = False\n"                                     // pypolicyd-spf: turns Mock ON
      "Header_Type = SPF,AR\n"                             // pypolicyd-spf: crash
      "Authserv_Id = mx.example.net\n");
  const Settings s = load_file(path).settings;
  EXPECT_EQ(s.reason_message, "Rejected: {spf} see a=b");
  ASSERT_EQ(s.whitelist.size(), 2u);
  EXPECT_EQ(s.whitelist[1].to_string(), "203.0.113.99/32");
  EXPECT_TRUE(s.permerror_reject);
  EXPECT_FALSE(s.mock);
  EXPECT_TRUE(s.header_type.spf);
  EXPECT_TRUE(s.header_type.ar);
}

TEST(Options, TestOnlyZeroMeansTestMode) {
  EXPECT_TRUE(load_file(write_config("TestOnly = 0\n")).settings.test_only);
  EXPECT_FALSE(load_file(write_config("TestOnly = 1\n")).settings.test_only);
}

TEST(Options, LastOccurrenceWinsAndCommentsAnywhere) {
  const Settings s = load_file(write_config("Lookup_Time = 5 # short\nLookup_Time = 7\n  # comment\n\n")).settings;
  EXPECT_EQ(s.lookup_time, std::chrono::seconds(7));
}

TEST(Options, BadValuesNameFileLineAndOption) {
  const std::string path = write_config("debugLevel = 1\n\nLookup_Time = 2.5\n");
  EXPECT_EQ(error_of({path}), path + ":3: Lookup_Time: '2.5' is not a whole number of seconds");
  const std::string p2 = write_config("HELO_reject = Sometimes\n");
  EXPECT_EQ(error_of({p2}),
            p2 + ":1: HELO_reject: 'Sometimes' is not one of SPF_Not_Pass, Softfail, Fail, Null, False, No_Check");
  const std::string p3 = write_config("Whitelist = 198.51.100.1/24\n");
  EXPECT_EQ(error_of({p3}), p3 + ":1: Whitelist: '198.51.100.1/24' is not an IP network: 198.51.100.1/24 has host bits set");
  const std::string p4 = write_config("TestOnly = yes\n");
  EXPECT_NE(error_of({p4}).find(p4 + ":1: TestOnly:"), std::string::npos);
}

TEST(Options, UnknownOptionIsAnErrorWithASuggestion) {
  const std::string path = write_config("helo_reject = Fail\n");
  EXPECT_EQ(error_of({path}), path + ":1: helo_reject: unknown option (did you mean HELO_reject?)");
  const std::string p2 = write_config("FooBar = 1\n");
  EXPECT_EQ(error_of({p2}), p2 + ":1: FooBar: unknown option");
  const std::string p3 = write_config("this line has no equals sign\n");
  EXPECT_NE(error_of({p3}).find(p3 + ":1: expected \"Name = Value\""), std::string::npos);
}

TEST(Options, MilterOptionsAreAcceptedAndReported) {
  const Loaded l = load_file(write_config("Socket = local:/run/pyspf-milter/pyspf-milter.sock\nUMask = 007\n"));
  ASSERT_EQ(l.notices.size(), 2u);
  EXPECT_NE(l.notices[0].find("milter"), std::string::npos);
}

TEST(Options, CommandLineWinsOverTheFile) {
  const std::string path = write_config("Lookup_Time = 5\nmax_connections = 10\n");
  const Settings s = load({"--Lookup_Time=9", path}).settings;
  EXPECT_EQ(s.lookup_time, std::chrono::seconds(9));
  EXPECT_EQ(s.max_connections, 10u);  // underscore spelling of max-connections in the file
}

TEST(Options, DurationsAndDaemonOptions) {
  const Settings s = load({"--request-timeout=1500ms", "--idle-timeout=2m", "--listen", "unix:/tmp/a.sock",
                           "--listen", "tcp:127.0.0.1:10045", "--spawn"})
                         .settings;
  EXPECT_EQ(s.request_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(s.idle_timeout, std::chrono::minutes(2));
  EXPECT_EQ(s.listen.size(), 2u);
  EXPECT_TRUE(s.spawn);
  EXPECT_NE(error_of({"--request-timeout=soon"}).find("not a duration"), std::string::npos);
  // Found by fuzz_config: bounded in milliseconds, so that no duration overflows the clock.
  EXPECT_NE(error_of({"--request-timeout=1000000000h"}).find("'1000000000h' is too large"), std::string::npos);
  EXPECT_NE(error_of({"--idle-timeout=16666667m"}).find("too large"), std::string::npos);
  EXPECT_NE(error_of({"--Lookup_Time=4000000000"}).find("too large"), std::string::npos);
  EXPECT_EQ(load({"--idle-timeout=1000000000s"}).settings.idle_timeout, std::chrono::seconds(1000000000));
}

TEST(Options, CrossOptionChecks) {
  EXPECT_NE(error_of({"--spawn", "--log=stderr"}).find("stderr is the Postfix socket"), std::string::npos);
  EXPECT_NE(error_of({"--Header_Type=AR", "--Authserv_Id="}).find("Authserv_Id"), std::string::npos);
  EXPECT_EQ(load({"--Authserv_Id=HOSTNAME"}).settings.authserv_id.empty(), false);
  EXPECT_NE(load({"--Authserv_Id=HOSTNAME"}).settings.authserv_id, "HOSTNAME");
}

TEST(Options, OverridesThrowOnlyConfigErrors) {
  // Found by fuzz_config: an empty option name made Program_options throw ambiguous_option.
  EXPECT_THROW(with_overrides(defaults(), {{"", "x"}}), Error);
  EXPECT_THROW(with_overrides(defaults(), {{"No_Such_Option", "x"}}), Error);
  EXPECT_EQ(with_overrides(defaults(), {{"Lookup_Time", "5"}}).lookup_time, std::chrono::seconds(5));
  // Found by fuzz_per_user: Program_options' what() never returns for a value holding its own placeholder.
  try {
    with_overrides(defaults(), {{"TestOnly", "1%value%"}});
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "TestOnly: '1%value%' is not a valid value (it contains %value%)");
  }
  EXPECT_NE(error_of({"--debugLevel=%canonical_option%"}).find("is not a valid value"), std::string::npos);
}

TEST(Options, MissingFileIsAnError) {
  EXPECT_NE(error_of({"/nonexistent/spfgate.conf"}).find("cannot read the configuration file"), std::string::npos);
}

TEST(Options, HelpListsEveryGroup) {
  const std::string help = help_text();
  for (const char* word : {"HELO_reject", "--listen", "--spawn", "max-request-bytes", "resolver-config"})
    EXPECT_NE(help.find(word), std::string::npos) << word;
}

TEST(Options, ThreadsDefaultToOneAndAreBounded) {
  EXPECT_EQ(defaults().threads, 1u);
  EXPECT_EQ(load({"--threads=0"}).settings.threads, 0u);  // one per core: the server counts them
  EXPECT_EQ(load({write_config("threads = 4\n")}).settings.threads, 4u);
  EXPECT_NE(error_of({"--threads=65"}).find("threads must be at most 64"), std::string::npos);
  EXPECT_NE(error_of({"--threads=many"}), "(no error)");
}
