# The tours of the core and parallel layers run as tests: each checks its own
# claim (a gradient against finite differences; 1 vs 3 replicas on one batch;
# 1 vs 3 CPU threads)
# and prints the line matched below only when the check passed.
if(MINIDP_BUILD_EXAMPLES)
  add_test(NAME "examples: autograd_tour" COMMAND autograd_tour)
  set_tests_properties("examples: autograd_tour" PROPERTIES LABELS examples
    PASS_REGULAR_EXPRESSION "finite-difference check passed")
  add_test(NAME "examples: dp_tour" COMMAND dp_tour)
  set_tests_properties("examples: dp_tour" PROPERTIES LABELS examples
    PASS_REGULAR_EXPRESSION "1 and 3 replicas: same gradient")
  add_test(NAME "examples: cpu_tour" COMMAND cpu_tour)
  set_tests_properties("examples: cpu_tour" PROPERTIES LABELS examples ENVIRONMENT "MINIDP_NUM_THREADS=3"
    PASS_REGULAR_EXPRESSION "1 and 3 threads: bitwise the same")
endif()
