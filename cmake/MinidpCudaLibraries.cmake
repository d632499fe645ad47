# cuDNN and NCCL as imported targets minidp::cudnn and minidp::nccl.
#
# Run by minidp's own build (cmake/MinidpDependencies.cmake) and by the
# installed package (minidpConfig.cmake), so that the exported minidp target
# names these targets, never a path: an installed minidp finds cuDNN and NCCL
# wherever the user's machine keeps them.
#
# They sit inside the CUDA toolkit (lib64/ or lib/), in the system's multiarch
# folders, or, as a last resort, in PyTorch's Python wheels
# (site-packages/nvidia/{cudnn,nccl}/{include,lib}), whose libraries carry only
# the versioned name (libcudnn.so.9, libnccl.so.2).
if(TARGET minidp::cudnn AND TARGET minidp::nccl)
  return()
endif()
find_package(CUDAToolkit QUIET)
set(_minidp_lib_hints ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib64 ${CUDAToolkit_LIBRARY_ROOT}/lib
    /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu)
set(_minidp_inc_hints ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include /usr/include /usr/include/x86_64-linux-gnu)
find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${_minidp_inc_hints})
find_library(CUDNN_LIBRARY cudnn HINTS ${_minidp_lib_hints})
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_minidp_inc_hints})
find_library(NCCL_LIBRARY nccl HINTS ${_minidp_lib_hints})
if(NOT CUDNN_LIBRARY OR NOT CUDNN_INCLUDE_DIR OR NOT NCCL_LIBRARY OR NOT NCCL_INCLUDE_DIR)
  find_program(_minidp_python3 python3)
  if(_minidp_python3)
    execute_process(COMMAND ${_minidp_python3} -c "import site; print(';'.join(site.getsitepackages()))"
                    OUTPUT_VARIABLE _site OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    foreach(_sp ${_site})
      file(GLOB _wheel_roots LIST_DIRECTORIES true ${_sp}/nvidia ${_sp}/nvidia/cu*)
      foreach(_root ${_wheel_roots})
        find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${_root}/cudnn/include NO_DEFAULT_PATH)
        find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${_root}/cudnn/lib NO_DEFAULT_PATH)
        find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_root}/nccl/include NO_DEFAULT_PATH)
        find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_root}/nccl/lib NO_DEFAULT_PATH)
      endforeach()
    endforeach()
    if(CUDNN_LIBRARY MATCHES "site-packages|dist-packages" OR NCCL_LIBRARY MATCHES "site-packages|dist-packages")
      message(STATUS "minidp: using cuDNN/NCCL from PyTorch's Python wheels (${CUDNN_LIBRARY}; ${NCCL_LIBRARY})")
    endif()
  endif()
endif()
if(CUDNN_LIBRARY AND CUDNN_INCLUDE_DIR AND NOT TARGET minidp::cudnn)
  add_library(minidp::cudnn UNKNOWN IMPORTED)
  set_target_properties(minidp::cudnn PROPERTIES IMPORTED_LOCATION "${CUDNN_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
endif()
if(NCCL_LIBRARY AND NCCL_INCLUDE_DIR AND NOT TARGET minidp::nccl)
  add_library(minidp::nccl UNKNOWN IMPORTED)
  set_target_properties(minidp::nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
endif()
