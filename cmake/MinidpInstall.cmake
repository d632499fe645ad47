# `cmake --install` puts libminidp.a, the headers (include/minidp/...) and a
# package config, so that a user's project can say find_package(minidp).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Headers keep their layout under include/minidp/; only include/ is on the
# consumer's include path, so they are <minidp/minidp.h>, <minidp/core/tensor.h>.
install(TARGETS minidp EXPORT minidpTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES minidp.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/minidp)  # <minidp/minidp.h>
foreach(dir core core/ops kernels kernels/cpu kernels/cuda nn nn/optim nn/data parallel metrics)
  file(GLOB _headers ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.h)
  install(FILES ${_headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/minidp/${dir})
endforeach()

# The package names its dependencies as imported targets found again on the
# user's machine (minidpConfig.cmake), never by path: an install can be moved
# to another prefix or machine.
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/cmake/MinidpCudaLibraries.cmake ${CMAKE_CURRENT_SOURCE_DIR}/cmake/MinidpOneDnn.cmake DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/minidp)
install(EXPORT minidpTargets NAMESPACE minidp:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/minidp)
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/minidpConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/minidpConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/minidp)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/minidpConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/minidpConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/minidpConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/minidp)
