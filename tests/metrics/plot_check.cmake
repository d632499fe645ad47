# metrics_demo writes its JSON report; tools/plot_metrics.py must turn it, an
# epoch log and a scaling table into PNG files. Without a Python that has
# matplotlib it prints the line the test's SKIP_REGULAR_EXPRESSION matches.
if(NOT PYTHON)
  message("SKIPPED: matplotlib not installed for any Python found (tools/install-deps.sh installs python3-matplotlib)")
  return()
endif()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND ${DEMO} ${WORK}/report.json RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "metrics_demo failed: ${rc}")
endif()
file(WRITE ${WORK}/run.jsonl
  "{\"epoch\": 1, \"train_loss\": 1.0, \"val_loss\": 1.1, \"val_accuracy\": 0.6}\n"
  "{\"epoch\": 2, \"train_loss\": 0.7, \"val_loss\": 0.9, \"val_accuracy\": 0.7}\n")
file(WRITE ${WORK}/scaling.json
  "{\"scaling\": [{\"replicas\": 1, \"samples_per_second\": 100, \"efficiency\": 1.0},"
  " {\"replicas\": 2, \"samples_per_second\": 180, \"efficiency\": 0.9}]}")
execute_process(COMMAND ${PYTHON} ${SCRIPT} ${WORK}/report.json ${WORK}/run.jsonl ${WORK}/scaling.json
                        --out ${WORK}/png
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plot_metrics.py failed (${rc}): ${err}")
endif()
foreach(png report_confusion run_loss run_accuracy scaling_scaling)
  if(NOT EXISTS ${WORK}/png/${png}.png)
    message(FATAL_ERROR "plot_metrics.py did not write ${png}.png; it wrote: ${out}")
  endif()
  file(SIZE ${WORK}/png/${png}.png size)
  if(size LESS 1000)
    message(FATAL_ERROR "${png}.png is only ${size} bytes")
  endif()
endforeach()
message(STATUS "wrote: ${out}")
