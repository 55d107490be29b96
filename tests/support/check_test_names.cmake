# A test case whose name holds ';' never runs under ctest: catch_discover_tests splits the name
# there, and Catch, given the first part as its test spec, matches nothing and exits 0 ("No
# tests ran"). 16 cases were silently skipped that way until 2026-12-05. This check fails the
# suite if a test executable (BIN) lists such a name again.
# (Catch 2 exits with the number of tests listed, not 0.)
execute_process(COMMAND "${BIN}" --list-test-names-only OUTPUT_VARIABLE names)
if(names STREQUAL "")
  message(FATAL_ERROR "${BIN} --list-test-names-only listed nothing")
endif()
string(FIND "${names}" ";" at)
if(NOT at EQUAL -1)
  string(REPLACE ";" "<SEMICOLON>" shown "${names}")
  message(FATAL_ERROR "${BIN}: a test name holds ';', which ctest cannot run (use ',' instead):\n${shown}")
endif()
