# The CPU pool's wait policy read from the environment (kernels/cpu/parallel.cpp):
# the core suite's case that compares spin_microseconds() with
# MINIDP_TEST_EXPECT_SPIN, run under each policy, and a bad MINIDP_WAIT_POLICY,
# which must be refused by name.
if(TARGET test_core)
  set(_case "--test-case=cpu pool: spin_microseconds() follows*")
  foreach(_run "OMP_WAIT_POLICY=passive|0" "OMP_WAIT_POLICY=ACTIVE|-1" "MINIDP_WAIT_POLICY=passive,OMP_WAIT_POLICY=active|0"
               "OMP_WAIT_POLICY=sometimes|1000" "MINIDP_WAIT_POLICY=|1000")
    string(REPLACE "|" ";" _parts "${_run}")
    list(GET _parts 0 _env)
    list(GET _parts 1 _want)
    string(REPLACE "," ";" _env "${_env}")
    set(_name "core policy | ${_run}: idle CPU threads spin ${_want} us")
    add_test(NAME "${_name}" COMMAND test_core "${_case}")
    set_tests_properties("${_name}" PROPERTIES LABELS core
      ENVIRONMENT "${_env};MINIDP_TEST_EXPECT_SPIN=${_want}"
      PASS_REGULAR_EXPRESSION "assertions: 1 \\| 1 passed \\| 0 failed")  # the one check ran, and held
  endforeach()
  set(_name "core policy | MINIDP_WAIT_POLICY=bogus is refused, by name")
  add_test(NAME "${_name}" COMMAND test_core "${_case}")
  set_tests_properties("${_name}" PROPERTIES LABELS core
    ENVIRONMENT "MINIDP_WAIT_POLICY=bogus;MINIDP_TEST_EXPECT_SPIN=0"
    PASS_REGULAR_EXPRESSION "MINIDP_WAIT_POLICY: unknown policy 'bogus'; expected 'passive'")
endif()
