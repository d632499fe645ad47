# The small examples run as tests: each must finish and print what it promises.
if(MINIDP_BUILD_EXAMPLES)
  add_test(NAME "examples: fit_curve loss falls" COMMAND fit_curve --steps 300)
  set_tests_properties("examples: fit_curve loss falls" PROPERTIES LABELS examples
    PASS_REGULAR_EXPRESSION "step  300  loss 0\\.00[0-9]+")
endif()
