# oneDNN (Debian/Ubuntu: libdnnl-dev) as the imported target minidp::dnnl,
# with the OpenMP runtime it was built on, libgomp (minidp sets the team size
# of the threads that call it: kernels/cpu/conv_onednn.cpp).
#
# Run by minidp's own build (cmake/MinidpDependencies.cmake) and by the
# installed package (minidpConfig.cmake), so the exported minidp target names
# this target, never a path. Found by name rather than through oneDNN's own
# package config, which also asks for the OpenCL headers of its GPU runtime
# (unused here). Taken only when it is what the code is written for: the 2.x
# API, on OpenMP threads (or sequential); otherwise MINIDP_DNNL_REJECTED says
# why and no target is made.
if(TARGET minidp::dnnl)
  return()
endif()
find_path(MINIDP_DNNL_INCLUDE_DIR dnnl.hpp)
find_library(MINIDP_DNNL_LIBRARY dnnl)
# The runtime itself (libgomp.so.1 is what Debian's libdnnl.so.2 needs), not
# the OpenMP of whichever compiler links the program: one runtime per process.
find_library(MINIDP_GOMP_LIBRARY NAMES gomp libgomp.so.1)
unset(MINIDP_DNNL_REJECTED)
if(MINIDP_DNNL_INCLUDE_DIR AND MINIDP_DNNL_LIBRARY AND MINIDP_GOMP_LIBRARY)
  set(_minidp_dnnl_config ${MINIDP_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_config.h)
  set(_minidp_dnnl_version ${MINIDP_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h)
  if(NOT EXISTS ${_minidp_dnnl_version})
    set(_minidp_dnnl_config ${MINIDP_DNNL_INCLUDE_DIR}/dnnl_config.h)
    set(_minidp_dnnl_version ${MINIDP_DNNL_INCLUDE_DIR}/dnnl_version.h)
  endif()
  file(STRINGS ${_minidp_dnnl_version} _major REGEX "^#define DNNL_VERSION_MAJOR ")
  file(STRINGS ${_minidp_dnnl_config} _runtime REGEX "^#define DNNL_CPU_THREADING_RUNTIME ")
  if(NOT _major MATCHES "MAJOR 2$")
    set(MINIDP_DNNL_REJECTED "oneDNN ${_major} is not 2.x (minidp uses the 2.x API)")
  elseif(NOT _runtime MATCHES "DNNL_RUNTIME_(OMP|SEQ)$")
    set(MINIDP_DNNL_REJECTED "oneDNN runs on ${_runtime}, not OpenMP (minidp sets its OpenMP team size)")
  else()
    add_library(minidp::dnnl INTERFACE IMPORTED)
    set_target_properties(minidp::dnnl PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${MINIDP_DNNL_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${MINIDP_DNNL_LIBRARY};${MINIDP_GOMP_LIBRARY}")
  endif()
endif()
