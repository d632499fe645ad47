# The docs quote code; a quote that no longer matches its source fails here.
find_program(MINIDP_PYTHON3 NAMES python3)
if(MINIDP_PYTHON3)
  add_test(NAME "docs: quoted code matches its source"
           COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/docs/quoted_code.py ${PROJECT_SOURCE_DIR})
  set_tests_properties("docs: quoted code matches its source" PROPERTIES LABELS docs
    PASS_REGULAR_EXPRESSION "quoted code blocks match their sources")
  add_test(NAME "docs: the quote check catches a changed line"
           COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/docs/quoted_code.py --self-test)
  set_tests_properties("docs: the quote check catches a changed line" PROPERTIES LABELS docs
    PASS_REGULAR_EXPRESSION "self-test ok")
endif()
