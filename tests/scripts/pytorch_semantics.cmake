# train_mlp's SGD steps against PyTorch's definitions (tests/nn/pytorch_semantics.py);
# uses the Python found by metrics_sklearn.cmake (it has numpy). Skips (77) without numpy or data.
if(MINIDP_BUILD_EXAMPLES AND MINIDP_SKLEARN_PYTHON)
  add_test(NAME "nn: train_mlp steps equal PyTorch's update rule"
           COMMAND ${MINIDP_SKLEARN_PYTHON} ${PROJECT_SOURCE_DIR}/tests/nn/pytorch_semantics.py $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: train_mlp steps equal PyTorch's update rule" PROPERTIES LABELS nn SKIP_RETURN_CODE 77
    TIMEOUT 300)
endif()
