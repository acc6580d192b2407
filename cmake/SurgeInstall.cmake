# `cmake --install`: headers, libraries and the CMake package `surge`, in components
#   surrogate   surge::surrogate (libsurge_surrogate.so: surge::Surrogate and the C API
#               <surge/surrogate.h>, on libsurge_core_base.so) and, when built with a Fortran
#               compiler, surge::surrogate_fortran (module surge_surrogate)
#   core        surge::core (MPI session, logger, HDF5 handles)
#   reservoir   surge::reservoir
#   surrogates  surge::surrogates (training)
# so that another project does
#   find_package(surge COMPONENTS surrogate)        # or find_package(surge): every component
#   target_link_libraries(app PRIVATE surge::surrogate)
# Each component's targets are their own export set (lib/cmake/surge/surge-<set>-targets.cmake),
# and surgeConfig.cmake finds only the dependencies of the components asked for.
if(NOT TARGET surge_surrogates OR NOT TARGET surge_reservoir)
  return()
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

foreach(target surge_core_base surge_core surge_reservoir surge_surrogate surge_surrogates)
  target_include_directories(${target} PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
# The shared libraries find each other next to themselves, and a LibTorch or yaml-cpp outside
# the system directories where they were linked from.
set_target_properties(surge_core_base surge_surrogate PROPERTIES
  INSTALL_RPATH "$ORIGIN" INSTALL_RPATH_USE_LINK_PATH TRUE)
set_target_properties(surge_core PROPERTIES EXPORT_NAME core)
set_target_properties(surge_reservoir PROPERTIES EXPORT_NAME reservoir)
set_target_properties(surge_hdf5 PROPERTIES EXPORT_NAME hdf5)
# Linked PRIVATE by the static libraries: exported as link-only (no compile options leak).
set_target_properties(surge_warnings PROPERTIES EXPORT_NAME warnings)

set(SURGE_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/surge)
function(surge_install_export set)
  install(TARGETS ${ARGN} EXPORT surge-${set}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT surge-${set} NAMESPACE surge:: FILE surge-${set}-targets.cmake
          DESTINATION ${SURGE_CMAKE_INSTALL_DIR})
endfunction()
surge_install_export(core-base surge_core_base)
surge_install_export(surrogate surge_surrogate)
surge_install_export(core surge_core surge_hdf5 surge_warnings)
surge_install_export(reservoir surge_reservoir)
surge_install_export(surrogates surge_surrogates)
if(TARGET surge_surrogate_fortran)
  surge_install_export(surrogate-fortran surge_surrogate_fortran)
  get_target_property(module_dir surge_surrogate_fortran Fortran_MODULE_DIRECTORY)
  install(FILES ${module_dir}/surge_surrogate.mod
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/surge/fortran)
  set_property(TARGET surge_surrogate_fortran APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES
               $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/surge/fortran>)
endif()
# The module's source too, for a Fortran compiler other than the one surge was built with.
install(FILES ${CMAKE_SOURCE_DIR}/surrogates/src/surge_surrogate.f90
        DESTINATION ${CMAKE_INSTALL_DATADIR}/surge/fortran)

install(DIRECTORY ${CMAKE_SOURCE_DIR}/core/include/ ${CMAKE_SOURCE_DIR}/reservoir/include/
                  ${CMAKE_SOURCE_DIR}/surrogates/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/generated/surge/core/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/surge/core)

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/surgeConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/cmake/surgeConfig.cmake
                              INSTALL_DESTINATION ${SURGE_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/surgeConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/surgeConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake/surgeConfigVersion.cmake
        DESTINATION ${SURGE_CMAKE_INSTALL_DIR})
