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
    PASS_REGULAR_EXPRESSION "WARNING: accuracy paradox: accuracy 0\\.978 looks high, but class 1 has recall 0\\.200")
endif()

# tools/plot_metrics.py draws the demo's JSON report; skipped without matplotlib.
if(TARGET metrics_demo)
  set(_minidp_plot_python "")
  find_package(Python3 COMPONENTS Interpreter QUIET)
  foreach(_py /usr/bin/python3 ${Python3_EXECUTABLE})
    if(EXISTS "${_py}" AND NOT _minidp_plot_python)
      execute_process(COMMAND ${_py} -c "import matplotlib" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
      if(_rc EQUAL 0)
        set(_minidp_plot_python ${_py})
      endif()
    endif()
  endforeach()
  add_test(NAME "metrics: plot_metrics.py draws a report"
           COMMAND ${CMAKE_COMMAND} -DDEMO=$<TARGET_FILE:metrics_demo> -DPYTHON=${_minidp_plot_python}
                   -DSCRIPT=${PROJECT_SOURCE_DIR}/tools/plot_metrics.py
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/metrics_plot
                   -P ${PROJECT_SOURCE_DIR}/tests/metrics/plot_check.cmake)
  set_tests_properties("metrics: plot_metrics.py draws a report" PROPERTIES LABELS metrics
    SKIP_REGULAR_EXPRESSION "SKIPPED: matplotlib not installed")
endif()
