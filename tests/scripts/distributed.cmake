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
  add_test(NAME "distributed: a killed, stopped or failing rank ends the job within a minute, named"
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/distributed/faults.sh ${MINIDP_MPIEXEC} $<TARGET_FILE:train_mlp>)
  set_tests_properties("distributed: a killed, stopped or failing rank ends the job within a minute, named"
    PROPERTIES LABELS distributed TIMEOUT 300 SKIP_RETURN_CODE 77 RESOURCE_LOCK mpi ENVIRONMENT "${_ompi_root}"
    PASS_REGULAR_EXPRESSION "faults ok")
endif()
