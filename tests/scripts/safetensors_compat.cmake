# safetensors byte compatibility: tests/nn/safetensors_compat.py writes a file
# in the reference implementation's layout, minidp reads it and writes its
# own, and the script checks minidp's bytes (with safetensors.torch when that
# is installed). Skipped (exit 77) where no Python 3 interpreter is found.
add_executable(safetensors_compat ${CMAKE_CURRENT_LIST_DIR}/safetensors_compat.cpp)
target_link_libraries(safetensors_compat PRIVATE minidp::minidp)

find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME "nn: safetensors byte compatibility (python)"
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/nn/safetensors_compat.py
                   $<TARGET_FILE:safetensors_compat> ${CMAKE_CURRENT_BINARY_DIR}/safetensors_compat_files)
else()
  add_test(NAME "nn: safetensors byte compatibility (python)"
           COMMAND safetensors_compat skip "python3 not found; install python3 to run this check")
endif()
set_tests_properties("nn: safetensors byte compatibility (python)" PROPERTIES LABELS nn SKIP_RETURN_CODE 77)
