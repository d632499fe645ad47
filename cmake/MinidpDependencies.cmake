# Finds minidp's dependencies from the system's packages and says plainly
# which Debian/Ubuntu package provides whatever is missing.
include(CheckLanguage)
find_package(Threads REQUIRED)

macro(minidp_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "minidp: ${what} not found. Install it with: sudo apt-get install ${package}")
  endif()
endmacro()

find_package(Eigen3 3.3 CONFIG QUIET)
minidp_require(Eigen3_FOUND "Eigen 3 (CPU linear algebra)" libeigen3-dev)
find_package(ZLIB QUIET)
minidp_require(ZLIB_FOUND "zlib (reading .gz data sets)" zlib1g-dev)
find_package(nlohmann_json 3 CONFIG QUIET)
minidp_require(nlohmann_json_FOUND "nlohmann-json (JSON metrics, checkpoint metadata)" nlohmann-json3-dev)
if(MINIDP_BUILD_TESTS)
  find_package(doctest CONFIG QUIET)
  minidp_require(doctest_FOUND "doctest (the test framework)" doctest-dev)
endif()
if(MINIDP_BUILD_EXAMPLES)
  find_package(CLI11 CONFIG QUIET)
  minidp_require(CLI11_FOUND "CLI11 (command-line flags of the examples)" libcli11-dev)
endif()

# ---- OpenBLAS: the CPU's float64 matrix products, and the float32 ones in
# builds without oneDNN (measured faster than Eigen's on this project's
# shapes: docs/cpu.md). Optional: without it Eigen computes them.
# MINIDP_OPENBLAS=OFF builds with Eigen alone, for binaries that must run on a
# machine without OpenBLAS (tools/gpu-prebuild.sh).
set(MINIDP_OPENBLAS AUTO CACHE STRING "CPU GEMM through OpenBLAS (float64; float32 without oneDNN): AUTO (when found), ON or OFF (Eigen)")
set_property(CACHE MINIDP_OPENBLAS PROPERTY STRINGS AUTO ON OFF)
set(MINIDP_WITH_OPENBLAS OFF)
if(NOT MINIDP_OPENBLAS STREQUAL "OFF")
  find_library(OPENBLAS_LIBRARY NAMES openblas)
  find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-pthread openblas-openmp openblas
            HINTS /usr/include/x86_64-linux-gnu /usr/include)
endif()
if(OPENBLAS_LIBRARY AND OPENBLAS_INCLUDE_DIR AND NOT MINIDP_OPENBLAS STREQUAL "OFF")
  # Linked as FindBLAS's imported target BLAS::BLAS, never as a path, so the
  # installed package finds OpenBLAS wherever the user's machine has it.
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
  set(MINIDP_WITH_OPENBLAS ON)
  message(STATUS "minidp: CPU GEMM through OpenBLAS (${OPENBLAS_LIBRARY})")
elseif(MINIDP_OPENBLAS STREQUAL "ON")
  message(FATAL_ERROR "minidp: MINIDP_OPENBLAS=ON but OpenBLAS was not found. Install it with: sudo apt-get install libopenblas-dev")
elseif(MINIDP_OPENBLAS STREQUAL "OFF")
  message(STATUS "minidp: CPU GEMM through Eigen (MINIDP_OPENBLAS=OFF)")
else()
  message(STATUS "minidp: CPU GEMM through Eigen (OpenBLAS not found: sudo apt-get install libopenblas-dev)")
endif()

# ---- oneDNN: the CPU's float32 convolutions (kernels/cpu/conv_onednn.cpp;
# measured 2-3x im2col + GEMM, docs/cpu.md) and float32 matrix products
# (kernels/cpu/gemm.cpp; its sgemm on the same blocks). Without it every
# convolution runs on the reference im2col + GEMM path, and the products on
# OpenBLAS or Eigen, with the same results' promises.
set(MINIDP_ONEDNN AUTO CACHE STRING "CPU float32 GEMM and convolutions through oneDNN: AUTO (when found), ON or OFF (OpenBLAS and the reference)")
set_property(CACHE MINIDP_ONEDNN PROPERTY STRINGS AUTO ON OFF)
set(MINIDP_WITH_ONEDNN OFF)
if(NOT MINIDP_ONEDNN STREQUAL "OFF")
  include(MinidpOneDnn)
endif()
if(TARGET minidp::dnnl)
  set(MINIDP_WITH_ONEDNN ON)
  message(STATUS "minidp: CPU float32 GEMM and convolutions through oneDNN (${MINIDP_DNNL_LIBRARY})")
elseif(MINIDP_ONEDNN STREQUAL "ON")
  message(FATAL_ERROR "minidp: MINIDP_ONEDNN=ON but no usable oneDNN was found (${MINIDP_DNNL_REJECTED}). "
                      "Install it with: sudo apt-get install libdnnl-dev")
elseif(MINIDP_ONEDNN STREQUAL "OFF")
  message(STATUS "minidp: CPU convolutions by im2col + GEMM (MINIDP_ONEDNN=OFF)")
elseif(MINIDP_DNNL_REJECTED)
  message(STATUS "minidp: CPU convolutions by im2col + GEMM (${MINIDP_DNNL_REJECTED})")
else()
  message(STATUS "minidp: CPU float32 GEMM as float64's, convolutions by im2col + GEMM (oneDNN not found: sudo apt-get install libdnnl-dev)")
endif()

# ---- MPI: one process per device, launched by mpirun (parallel/process_group.h).
# Without it the multi-process part is left out (a world of one process) and
# everything else builds.
set(MINIDP_MPI AUTO CACHE STRING "Build the multi-process layer with MPI: AUTO (when found), ON or OFF")
set_property(CACHE MINIDP_MPI PROPERTY STRINGS AUTO ON OFF)
set(MINIDP_WITH_MPI OFF)
if(NOT MINIDP_MPI STREQUAL "OFF")
  find_package(MPI QUIET COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(MINIDP_WITH_MPI ON)
    find_program(MINIDP_MPIEXEC NAMES mpirun mpiexec HINTS ${MPI_CXX_COMPILER_DIR} /usr/bin)
    message(STATUS "minidp: multi-process (MPI) ON (${MPI_CXX_LIBRARIES}; launcher ${MINIDP_MPIEXEC})")
  elseif(MINIDP_MPI STREQUAL "ON")
    message(FATAL_ERROR "minidp: MINIDP_MPI=ON but MPI was not found. Install it with: sudo apt-get install libopenmpi-dev openmpi-bin")
  else()
    message(STATUS "minidp: multi-process (MPI) OFF: MPI not found (sudo apt-get install libopenmpi-dev openmpi-bin); "
                   "DistributedDataParallel runs as a world of one process")
  endif()
else()
  message(STATUS "minidp: multi-process (MPI) OFF (MINIDP_MPI=OFF)")
endif()

# ---- CUDA: AUTO builds it whenever nvcc, cuBLAS, cuDNN and NCCL are all there.
set(MINIDP_WITH_CUDA OFF)
if(NOT MINIDP_CUDA STREQUAL "OFF")
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)  # Hopper (H100/H200); "native" fails without a GPU
  endif()
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  set(_missing "")
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    # CMake 3.25 does not know nvcc 13's C++20 switch; tell it (harmless on CMake 4).
    if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    find_package(CUDAToolkit QUIET)
    if(NOT CUDAToolkit_FOUND)
      list(APPEND _missing "the CUDA toolkit libraries")
    endif()
    include(MinidpCudaLibraries)  # cuDNN and NCCL as imported targets (also run by the installed package)
    if(NOT TARGET minidp::cudnn)
      list(APPEND _missing "cuDNN (package cudnn9-cuda-13 or libcudnn9-dev-cuda-13)")
    endif()
    if(NOT TARGET minidp::nccl)
      list(APPEND _missing "NCCL (package libnccl-dev)")
    endif()
  else()
    list(APPEND _missing "nvcc (the CUDA toolkit, package cuda-toolkit)")
  endif()
  if(_missing STREQUAL "")
    set(MINIDP_WITH_CUDA ON)
    message(STATUS "minidp: CUDA backend ON (architectures ${CMAKE_CUDA_ARCHITECTURES}; cuDNN ${CUDNN_LIBRARY}; NCCL ${NCCL_LIBRARY})")
  elseif(MINIDP_CUDA STREQUAL "ON")
    message(FATAL_ERROR "minidp: MINIDP_CUDA=ON but missing: ${_missing}")
  else()
    message(STATUS "minidp: CUDA backend OFF; missing: ${_missing}")
  endif()
else()
  message(STATUS "minidp: CUDA backend OFF (MINIDP_CUDA=OFF)")
endif()
