# Whole training runs across processes (mpirun, CPU ranks): 1 vs 3 processes
# give the same weights and accuracy, and a dead, stuck or failing rank ends
# the job within a minute, naming a rank.
if(MINIDP_BUILD_EXAMPLES AND MINIDP_WITH_MPI AND MINIDP_MPIEXEC)
  find_program(MINIDP_PYTHON3 NAMES python3)
  set(_ompi_root "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
  if(MINIDP_PYTHON3)
    add_test(NAME "distributed: train_mlp --ddp with 1 and 3 processes gives the same weights and accuracy"
             COMMAND ${MINIDP_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/distributed/ddp_equivalence.py ${MINIDP_MPIEXEC}
                     $<TARGET_FILE:train_mlp> 3)
    set_tests_properties("distributed: train_mlp --ddp with 1 and 3 processes gives the same weights and accuracy"
      PROPERTIES LABELS distributed TIMEOUT 300 SKIP_RETURN_CODE 77 RESOURCE_LOCK mpi ENVIRONMENT "${_ompi_root}"
      PASS_REGULAR_EXPRESSION "1 process == 3 processes")
  endif()
  add_test(NAME "distributed: resume across 2 processes is exact"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/distributed/resume_ddp.sh ${MINIDP_MPIEXEC} $<TARGET_FILE:train_mlp>)
  set_tests_properties("distributed: resume across 2 processes is exact" PROPERTIES LABELS distributed TIMEOUT 300
    SKIP_RETURN_CODE 77 RESOURCE_LOCK mpi ENVIRONMENT "${_ompi_root}" PASS_REGULAR_EXPRESSION "-> identical")
  # ZeRO-1 in the example: the checkpoint --zero 0 writes, byte for byte, on 2
  # and 3 processes; resumed on another N. (PASS_REGULAR_EXPRESSION ignores the
  # exit code: a "differ" line fails it.)
  add_test(NAME "distributed: train_mlp --zero 1 writes the checkpoint --zero 0 writes, and resumes on another N"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/distributed/zero_ddp.sh ${MINIDP_MPIEXEC} $<TARGET_FILE:train_mlp>)
  set_tests_properties("distributed: train_mlp --zero 1 writes the checkpoint --zero 0 writes, and resumes on another N"
    PROPERTIES LABELS distributed TIMEOUT 300 SKIP_RETURN_CODE 77 RESOURCE_LOCK mpi ENVIRONMENT "${_ompi_root}"
    PASS_REGULAR_EXPRESSION "resumed on 2: --zero 1 == --zero 0, bitwise -> identical" FAIL_REGULAR_EXPRESSION "differ")
  add_test(NAME "distributed: scaling --ddp under mpirun -np 3 measures its own 1-process baseline (strong and weak)"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/distributed/scaling_ddp.sh ${MINIDP_MPIEXEC} $<TARGET_FILE:scaling>)
  set_tests_properties("distributed: scaling --ddp under mpirun -np 3 measures its own 1-process baseline (strong and weak)"
    PROPERTIES LABELS distributed TIMEOUT 300 SKIP_RETURN_CODE 77 RESOURCE_LOCK mpi ENVIRONMENT "${_ompi_root}"
    PASS_REGULAR_EXPRESSION "-> ok")
  add_test(NAME "examples: ddp_tour under mpirun -np 2"
           COMMAND ${MINIDP_MPIEXEC} --oversubscribe --bind-to none -np 2 $<TARGET_FILE:ddp_tour>)
  set_tests_properties("examples: ddp_tour under mpirun -np 2" PROPERTIES LABELS "examples;distributed" TIMEOUT 120
    RESOURCE_LOCK mpi ENVIRONMENT "${_ompi_root}"
    PASS_REGULAR_EXPRESSION "step 3: loss [0-9.]+ with 2 process\\(es\\), [0-9.]+ in one -> same"
    FAIL_REGULAR_EXPRESSION "DIFFERENT")
  add_test(NAME "examples: ddp_tour's ZeRO-1 under mpirun -np 3"
           COMMAND ${MINIDP_MPIEXEC} --oversubscribe --bind-to none -np 3 $<TARGET_FILE:ddp_tour>)
  set_tests_properties("examples: ddp_tour's ZeRO-1 under mpirun -np 3" PROPERTIES LABELS "examples;distributed"
    TIMEOUT 120 RESOURCE_LOCK mpi ENVIRONMENT "${_ompi_root}"
    PASS_REGULAR_EXPRESSION "5. ZeRO-1: Adam state [0-9]+ bytes in this process \\([0-9]+ without ZeRO\\); weights after [0-9]+ steps -> same bits"
    FAIL_REGULAR_EXPRESSION "DIFFERENT")
  add_test(NAME "distributed: a killed, stopped or failing rank ends the job within a minute, named"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/distributed/faults.sh ${MINIDP_MPIEXEC} $<TARGET_FILE:train_mlp>)
  set_tests_properties("distributed: a killed, stopped or failing rank ends the job within a minute, named"
    PROPERTIES LABELS distributed TIMEOUT 300 SKIP_RETURN_CODE 77 RESOURCE_LOCK mpi ENVIRONMENT "${_ompi_root}"
    PASS_REGULAR_EXPRESSION "faults ok")
endif()
