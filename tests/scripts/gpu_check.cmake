# tools/gpu-check.sh needs a GPU; its dry mode runs here, with fake steps, so
# its logic (order of the steps, prebuilt binaries first, each command's own
# timeout, required and optional rows, the deadline, the summary, the trap on
# a kill) cannot rot between runs on a GPU.
add_test(NAME "tools: gpu-check.sh --dry (order, budgets, optional rows, deadline, kill)"
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/tools/gpu_check_dry.sh ${PROJECT_SOURCE_DIR})
set_tests_properties("tools: gpu-check.sh --dry (order, budgets, optional rows, deadline, kill)" PROPERTIES
  LABELS tools TIMEOUT 120 PASS_REGULAR_EXPRESSION "gpu-check dry runs ok")
