# cmake --install, then a separate project that uses find_package(minidp).
add_test(NAME "install: find_package(minidp) from a user's project"
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/consumer/run.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties("install: find_package(minidp) from a user's project" PROPERTIES
  LABELS install PASS_REGULAR_EXPRESSION "-> ok" TIMEOUT 300)
