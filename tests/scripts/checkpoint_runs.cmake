# Checkpoints of whole training runs under real conditions: two identical runs
# write the same bytes (1 and 3 replicas), and a save that runs out of disk
# space (a file size limit) keeps the previous checkpoint.
if(MINIDP_BUILD_EXAMPLES)
  add_test(NAME "nn: two identical runs write byte-identical checkpoints (1 and 3 replicas)"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/nn/checkpoint_deterministic.sh $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: two identical runs write byte-identical checkpoints (1 and 3 replicas)" PROPERTIES
    LABELS nn TIMEOUT 300 PASS_REGULAR_EXPRESSION "-> identical")
  add_test(NAME "nn: a full disk during --save keeps the previous checkpoint"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/nn/checkpoint_full_disk.sh $<TARGET_FILE:train_mlp>)
  set_tests_properties("nn: a full disk during --save keeps the previous checkpoint" PROPERTIES
    LABELS nn TIMEOUT 300 PASS_REGULAR_EXPRESSION "-> untouched")
endif()
