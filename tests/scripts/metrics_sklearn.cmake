# minidp-metrics against scikit-learn on random inputs (tests/metrics/sklearn_agreement.py).
# The agreement test is skipped (exit code 77) where no Python with
# scikit-learn and numpy is found; tools/install-deps.sh installs them
# (Debian: python3-sklearn python3-numpy).
if(NOT TARGET minidp-metrics)
  return()
endif()

# Prefer an interpreter that can import sklearn: the system one first (where
# apt puts python3-sklearn), then whatever CMake or PATH offers (pyenv, venv).
set(_minidp_py_candidates /usr/bin/python3)
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  list(APPEND _minidp_py_candidates ${Python3_EXECUTABLE})
endif()
find_program(_minidp_path_python3 NAMES python3 python)
if(_minidp_path_python3)
  list(APPEND _minidp_py_candidates ${_minidp_path_python3})
endif()
set(MINIDP_SKLEARN_PYTHON "")
set(_minidp_any_python "")
foreach(_py ${_minidp_py_candidates})
  if(NOT EXISTS ${_py})
    continue()
  endif()
  if(NOT _minidp_any_python)
    set(_minidp_any_python ${_py})
  endif()
  execute_process(COMMAND ${_py} -c "import numpy, sklearn" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  if(_rc EQUAL 0)
    set(MINIDP_SKLEARN_PYTHON ${_py})
    break()
  endif()
endforeach()
if(NOT MINIDP_SKLEARN_PYTHON)
  message(STATUS "minidp: no Python with scikit-learn found; the sklearn agreement test will be skipped")
  set(MINIDP_SKLEARN_PYTHON ${_minidp_any_python})
endif()

if(MINIDP_SKLEARN_PYTHON)
  add_test(NAME "metrics: agrees with scikit-learn"
           COMMAND ${MINIDP_SKLEARN_PYTHON} ${PROJECT_SOURCE_DIR}/tests/metrics/sklearn_agreement.py
                   $<TARGET_FILE:minidp-metrics>)
  set_tests_properties("metrics: agrees with scikit-learn" PROPERTIES LABELS metrics SKIP_RETURN_CODE 77)
endif()
