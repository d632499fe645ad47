# Whole training runs as tests: exact resume, thread-count independence, and 1 vs 3 replicas giving the same curves.
if(MINIDP_BUILD_EXAMPLES)
  add_test(NAME "nn: resume is exact (checkpoints byte for byte)"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/nn/resume_exact.sh $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: resume is exact (checkpoints byte for byte)" PROPERTIES LABELS nn TIMEOUT 300
    PASS_REGULAR_EXPRESSION "-> identical")
  add_test(NAME "nn: 1, 2 and 4 CPU threads train bitwise the same (checkpoints byte for byte)"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/nn/threads_bitwise.sh $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: 1, 2 and 4 CPU threads train bitwise the same (checkpoints byte for byte)" PROPERTIES
    LABELS nn TIMEOUT 300 PASS_REGULAR_EXPRESSION "-> identical")
  find_program(MINIDP_PYTHON3 NAMES python3)
  if(MINIDP_PYTHON3)
    add_test(NAME "parallel: train_mlp with 1 and 3 replicas gives the same curves"
             COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/parallel/dp_equivalence.py $<TARGET_FILE:train_mlp>)
    set_tests_properties("parallel: train_mlp with 1 and 3 replicas gives the same curves" PROPERTIES
      LABELS parallel TIMEOUT 600 SKIP_RETURN_CODE 77)
  endif()
endif()
if(MINIDP_BUILD_EXAMPLES AND MINIDP_PYTHON3)
  add_test(NAME "nn: train_mlp --metrics-json holds the report and the speed metrics"
           COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/nn/metrics_json_check.py $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: train_mlp --metrics-json holds the report and the speed metrics" PROPERTIES
    LABELS nn TIMEOUT 300 SKIP_RETURN_CODE 77 PASS_REGULAR_EXPRESSION "keys ok")
endif()
# Runs that go wrong: a diverging loss, a stop signal mid-epoch, command lines that cannot work.
if(MINIDP_BUILD_EXAMPLES)
  add_test(NAME "nn: a diverging run stops with the step and the likely cause (stop, skip, warn)"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/nn/nonfinite.sh $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: a diverging run stops with the step and the likely cause (stop, skip, warn)" PROPERTIES
    LABELS nn TIMEOUT 300 PASS_REGULAR_EXPRESSION "stop, skip and warn -> ok")
  add_test(NAME "nn: SIGTERM mid-epoch saves, and the resumed run ends bitwise like an uninterrupted one"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/nn/stop_signal.sh $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: SIGTERM mid-epoch saves, and the resumed run ends bitwise like an uninterrupted one"
    PROPERTIES LABELS nn TIMEOUT 300 RUN_SERIAL TRUE PASS_REGULAR_EXPRESSION "nothing written -> ok")
  add_test(NAME "nn: impossible command lines are refused with one line"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/nn/bad_command_lines.sh $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: impossible command lines are refused with one line" PROPERTIES
    LABELS nn TIMEOUT 300 PASS_REGULAR_EXPRESSION "all refused -> ok")
endif()
