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
# docs/walkthrough.md: every stop's file and function exist, and the walk keeps its measure.
if(MINIDP_PYTHON3)
  add_test(NAME "docs: the walkthrough's files and functions exist (12 stops in 10 files, 5 across processes)"
           COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/docs/walkthrough_links.py ${PROJECT_SOURCE_DIR})
  set_tests_properties("docs: the walkthrough's files and functions exist (12 stops in 10 files, 5 across processes)"
    PROPERTIES LABELS docs PASS_REGULAR_EXPRESSION "-> ok")
  add_test(NAME "docs: the walkthrough check catches a renamed function"
           COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/docs/walkthrough_links.py --self-test)
  set_tests_properties("docs: the walkthrough check catches a renamed function" PROPERTIES LABELS docs
    PASS_REGULAR_EXPRESSION "self-test ok")
endif()
# Prose that names code: identifiers, flags and files in docs/ and the README exist; relative links resolve.
if(MINIDP_PYTHON3)
  add_test(NAME "docs: every identifier, flag and file the prose names exists, every relative link resolves"
           COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/docs/identifiers.py ${PROJECT_SOURCE_DIR})
  set_tests_properties("docs: every identifier, flag and file the prose names exists, every relative link resolves"
    PROPERTIES LABELS docs PASS_REGULAR_EXPRESSION "-> ok")
  add_test(NAME "docs: the identifier check catches a made-up name and a dead link"
           COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/docs/identifiers.py --self-test)
  set_tests_properties("docs: the identifier check catches a made-up name and a dead link" PROPERTIES LABELS docs
    PASS_REGULAR_EXPRESSION "identifiers self-test ok")
endif()
