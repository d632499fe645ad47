# The small examples run as tests: each must finish and print what it promises.
if(MINIDP_BUILD_EXAMPLES)
  add_test(NAME "examples: fit_curve loss falls" COMMAND fit_curve --steps 300)
  set_tests_properties("examples: fit_curve loss falls" PROPERTIES LABELS examples
    PASS_REGULAR_EXPRESSION "step  300  loss 0\\.00[0-9]+")
endif()
if(MINIDP_BUILD_EXAMPLES)
  add_test(NAME "examples: imbalanced shows the accuracy paradox"
           COMMAND imbalanced --epochs 1 --devices cpu,cpu)
  set_tests_properties("examples: imbalanced shows the accuracy paradox" PROPERTIES LABELS examples TIMEOUT 300
    PASS_REGULAR_EXPRESSION "WARNING \\(accuracy_paradox\\).*ROC-AUC 0\\.9[0-9]+")
endif()
if(MINIDP_BUILD_EXAMPLES)
  # The first program a reader opens (examples/train_minimal.cpp): two epochs
  # of the MLP on Fashion-MNIST must reach the accuracy such an MLP reaches
  # (about 0.85; a broken step stays near 0.1).
  add_test(NAME "examples: train_minimal trains Fashion-MNIST to above 0.8 test accuracy"
           COMMAND train_minimal)
  set_tests_properties("examples: train_minimal trains Fashion-MNIST to above 0.8 test accuracy" PROPERTIES
    LABELS examples TIMEOUT 600 PASS_REGULAR_EXPRESSION "epoch 2: .*test accuracy 0\\.(8[0-9]|9[0-9])")
endif()
if(MINIDP_BUILD_EXAMPLES)
  # --explain: one real step with its numbers — an uneven split of 7 over 2
  # replicas, train_mlp's two buckets, the global count after the sum.
  add_test(NAME "examples: train_mlp --explain prints the shards, the buckets and the division of a real step"
           COMMAND train_mlp --explain --devices cpu,cpu --batch 7 --limit-train 100 --limit-test 10)
  set_tests_properties("examples: train_mlp --explain prints the shards, the buckets and the division of a real step"
    PROPERTIES LABELS examples TIMEOUT 120 PASS_REGULAR_EXPRESSION
    "rows \\[4, 7\\) of them, 3 samples.*bucket 0: 5.bias \\(10\\) 5.weight \\(10240\\) 3.bias \\(1024\\) = 11274 floats.*global count 7.*replicas bitwise identical")
endif()
