# tools/gpu-check.sh runs only on a lent GPU machine; its dry mode runs here,
# so its deadline, summary and trap logic cannot rot between GPU sessions.
add_test(NAME "tools: gpu-check.sh --dry (deadline, skips, summary, kill)"
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/tools/gpu_check_dry.sh ${PROJECT_SOURCE_DIR})
set_tests_properties("tools: gpu-check.sh --dry (deadline, skips, summary, kill)" PROPERTIES
  LABELS tools TIMEOUT 120 PASS_REGULAR_EXPRESSION "gpu-check dry runs ok")
