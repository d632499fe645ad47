# The metrics command-line tool and demo as tests: minidp-metrics must reject
# bad input files with exit status 2 and the file:line (tests/metrics/tool_errors.cmake),
# and metrics_demo must show the accuracy-paradox warning it is written to show.
if(TARGET minidp-metrics)
  add_test(NAME "metrics: minidp-metrics rejects bad input files"
           COMMAND ${CMAKE_COMMAND} -DTOOL=$<TARGET_FILE:minidp-metrics>
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/metrics_tool_errors
                   -P ${PROJECT_SOURCE_DIR}/tests/metrics/tool_errors.cmake)
  set_tests_properties("metrics: minidp-metrics rejects bad input files" PROPERTIES LABELS metrics)
endif()
if(TARGET metrics_demo)
  add_test(NAME "metrics: metrics_demo warns about the accuracy paradox" COMMAND metrics_demo)
  set_tests_properties("metrics: metrics_demo warns about the accuracy paradox" PROPERTIES LABELS metrics
    PASS_REGULAR_EXPRESSION "WARNING: accuracy paradox: accuracy 0\\.978 looks high, but class fraud has recall 0\\.200 \\(4 of 20 found, precision 0\\.400\\); always predicting the majority class legit \\(98\\.0% of the samples\\) would score 0\\.980")
endif()

# tools/plot_metrics.py draws the demo's JSON report. It needs a Python that
# imports matplotlib: the system's first (where apt puts python3-matplotlib,
# which tools/install-deps.sh installs), then CMake's and PATH's (pyenv, venv),
# which often lack it. Skipped, visibly, only when none of them has it.
if(TARGET metrics_demo)
  set(_minidp_plot_candidates /usr/bin/python3)
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_Interpreter_FOUND)
    list(APPEND _minidp_plot_candidates ${Python3_EXECUTABLE})
  endif()
  find_program(_minidp_plot_path_python NAMES python3 python)
  if(_minidp_plot_path_python)
    list(APPEND _minidp_plot_candidates ${_minidp_plot_path_python})
  endif()
  set(_minidp_plot_python "")
  foreach(_py ${_minidp_plot_candidates})
    if(NOT EXISTS "${_py}")
      continue()
    endif()
    # What plot_metrics.py imports: pyplot on the Agg backend (no display needed).
    execute_process(COMMAND ${_py} -c "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot"
                    RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
    if(_rc EQUAL 0)
      set(_minidp_plot_python ${_py})
      break()
    endif()
  endforeach()
  if(NOT _minidp_plot_python)
    message(STATUS "minidp: no Python with matplotlib found; the plotting test will be skipped")
  endif()
  add_test(NAME "metrics: plot_metrics.py draws a report"
           COMMAND ${CMAKE_COMMAND} -DDEMO=$<TARGET_FILE:metrics_demo> -DPYTHON=${_minidp_plot_python}
                   -DSCRIPT=${PROJECT_SOURCE_DIR}/tools/plot_metrics.py
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/metrics_plot
                   -P ${PROJECT_SOURCE_DIR}/tests/metrics/plot_check.cmake)
  set_tests_properties("metrics: plot_metrics.py draws a report" PROPERTIES LABELS metrics
    SKIP_REGULAR_EXPRESSION "SKIPPED: matplotlib not installed")
endif()
