# cmake --install, then a separate project that uses find_package(minidp),
# from a moved prefix, with g++ and clang++ (tests/consumer/run.sh).
add_test(NAME "install: find_package(minidp) from a user's project, prefix moved, g++ and clang++"
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/consumer/run.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties("install: find_package(minidp) from a user's project, prefix moved, g++ and clang++" PROPERTIES
  LABELS install PASS_REGULAR_EXPRESSION "moved prefix, g\\+\\+ and clang\\+\\+ -> all ok" TIMEOUT 600)

# The installed library runs on any x86-64 machine unless MINIDP_NATIVE asks
# for this one (a native build checks that the check sees the difference).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  if(MINIDP_NATIVE)
    set(_isa_mode native)
  else()
    set(_isa_mode portable)
  endif()
  add_test(NAME "install: libminidp.a holds no instruction beyond x86-64 (${_isa_mode} build)"
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/tools/baseline_isa.sh $<TARGET_FILE:minidp> ${_isa_mode})
  set_tests_properties("install: libminidp.a holds no instruction beyond x86-64 (${_isa_mode} build)" PROPERTIES
    LABELS install PASS_REGULAR_EXPRESSION "-> ok" FAIL_REGULAR_EXPRESSION "FAIL" TIMEOUT 300)
endif()

add_test(NAME "install: library code never ends the process, leaves MPI_COMM_WORLD to the host, no file over 450 lines"
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/tools/library_rules.sh ${PROJECT_SOURCE_DIR})
set_tests_properties("install: library code never ends the process, leaves MPI_COMM_WORLD to the host, no file over 450 lines"
  PROPERTIES LABELS install PASS_REGULAR_EXPRESSION "-> ok")
