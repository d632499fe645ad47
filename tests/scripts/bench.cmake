# The step benchmark must keep working between GPU sessions: a few CPU steps of
# each model, and the ratio table of bench/compare.py against hand-made rows.
if(MINIDP_BUILD_EXAMPLES)
  find_program(MINIDP_PYTHON3 NAMES python3)
  if(MINIDP_PYTHON3)
    add_test(NAME "bench: bench_step runs on the CPU and compare.py prints the ratios"
             COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/bench/bench_check.py $<TARGET_FILE:bench_step>
                     ${PROJECT_SOURCE_DIR}/bench)
    set_tests_properties("bench: bench_step runs on the CPU and compare.py prints the ratios" PROPERTIES
      LABELS bench TIMEOUT 300 PASS_REGULAR_EXPRESSION "bench ok")
  endif()
  add_test(NAME "bench: OpenBLAS's kernels are named, and old kernels on a newer CPU bring a warning"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/bench/openblas_kernels.sh $<TARGET_FILE:bench_step>)
  set_tests_properties("bench: OpenBLAS's kernels are named, and old kernels on a newer CPU bring a warning" PROPERTIES
    LABELS bench TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()
