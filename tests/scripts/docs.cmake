# The docs' own checks, each with a self-test that shows it can fail:
#   quoted_code.py       code quoted in the docs still matches its source
#   walkthrough_links.py docs/walkthrough.md's files and functions exist, and the walk keeps its measure
#   identifiers.py       identifiers, flags and files the prose names exist; relative links resolve
find_program(MINIDP_PYTHON3 NAMES python3)
function(minidp_docs_check script name pass self_test_name self_test_pass)
  if(NOT MINIDP_PYTHON3)
    return()
  endif()
  add_test(NAME "docs: ${name}" COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/docs/${script} ${PROJECT_SOURCE_DIR})
  set_tests_properties("docs: ${name}" PROPERTIES LABELS docs PASS_REGULAR_EXPRESSION "${pass}")
  add_test(NAME "docs: ${self_test_name}" COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/docs/${script} --self-test)
  set_tests_properties("docs: ${self_test_name}" PROPERTIES LABELS docs PASS_REGULAR_EXPRESSION "${self_test_pass}")
endfunction()

minidp_docs_check(quoted_code.py "quoted code matches its source" "quoted code blocks match their sources"
                  "the quote check catches a changed line" "self-test ok")
minidp_docs_check(walkthrough_links.py
                  "the walkthrough's files and functions exist (12 stops in 10 files, 5 across processes)" "-> ok"
                  "the walkthrough check catches a renamed function" "self-test ok")
minidp_docs_check(identifiers.py
                  "every identifier, flag and file the prose names exists, every relative link resolves" "-> ok"
                  "the identifier check catches a made-up name and a dead link" "identifiers self-test ok")
