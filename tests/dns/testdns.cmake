# tests/dns/testdns.cmake: attaching the test DNS (tests/dns/testdns.py, a ctest fixture) to tests.
#
#   include(${PROJECT_SOURCE_DIR}/tests/dns/testdns.cmake)   # tests/dns/CMakeLists.txt does this; safe twice
#   spfgate_needs_testdns(GTEST <target>...)   every test gtest_discover_tests() finds in these targets
#   spfgate_needs_testdns(TESTS <test>...)     tests added with add_test()
#
# Each test then requires the fixture "testdns" (testdns_start runs before it, testdns_stop after the last
# one) and gets SPFGATE_TESTDNS_DIR=<dir> in its environment. <dir> holds env (ports, pids, file names:
# see tests/dns/README.md), unbound-stub.conf and trust-anchors.txt. Call it in the directory that called
# spfgate_gtest() for the target, after that call.
include_guard(GLOBAL)

set(SPFGATE_TESTDNS_DIR ${CMAKE_BINARY_DIR}/testdns CACHE INTERNAL "Directory of the ctest test DNS")

function(spfgate_needs_testdns)
  cmake_parse_arguments(T "" "" "GTEST;TESTS" ${ARGN})
  foreach(test IN LISTS T_TESTS)
    set_property(TEST ${test} APPEND PROPERTY FIXTURES_REQUIRED testdns)
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT SPFGATE_TESTDNS_DIR=${SPFGATE_TESTDNS_DIR})
  endforeach()
  # Discovered GoogleTest tests exist only when ctest runs: a script included after the discovery script
  # sets the properties on every test named in <target>_TESTS (gtest_discover_tests' TEST_LIST).
  foreach(target IN LISTS T_GTEST)
    set(script ${CMAKE_CURRENT_BINARY_DIR}/${target}_testdns.cmake)
    file(WRITE ${script}
      "foreach(t IN LISTS ${target}_TESTS)\n"
      "  set_tests_properties(\"\${t}\" PROPERTIES FIXTURES_REQUIRED testdns\n"
      "    ENVIRONMENT \"SPFGATE_TESTDNS_DIR=${SPFGATE_TESTDNS_DIR}\")\n"
      "endforeach()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${script})
  endforeach()
endfunction()
