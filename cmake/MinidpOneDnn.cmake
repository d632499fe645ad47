# oneDNN (Debian/Ubuntu: libdnnl-dev) as the imported target minidp::dnnl,
# with the OpenMP runtime it is built on (minidp sets the team size of the
# threads that call it: kernels/cpu/conv_onednn.cpp).
#
# Run by minidp's own build (cmake/MinidpDependencies.cmake) and by the
# installed package (minidpConfig.cmake), so the exported minidp target names
# this target, never a path. Found by name rather than through oneDNN's own
# package config, which also asks for the OpenCL headers of its GPU runtime
# (unused here).
if(TARGET minidp::dnnl)
  return()
endif()
find_path(MINIDP_DNNL_INCLUDE_DIR dnnl.hpp)
find_library(MINIDP_DNNL_LIBRARY dnnl)
find_package(OpenMP QUIET COMPONENTS CXX)
if(MINIDP_DNNL_INCLUDE_DIR AND MINIDP_DNNL_LIBRARY AND OpenMP_CXX_FOUND)
  add_library(minidp::dnnl INTERFACE IMPORTED)
  set_target_properties(minidp::dnnl PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${MINIDP_DNNL_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${MINIDP_DNNL_LIBRARY};${OpenMP_CXX_LIBRARIES}")
endif()
