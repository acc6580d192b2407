# `cmake --install`: headers, libraries and the CMake package `surge`, in components
#   surrogate   surge::surrogate (libsurge_surrogate.so: surge::Surrogate and the C API
#               <surge/surrogate.h>, on libsurge_core_base.so) and, when built with a Fortran
#               compiler, surge::surrogate_fortran (module surge_surrogate)
#   core        surge::core (MPI session, logger, HDF5 handles)
#   reservoir   surge::reservoir
#   surrogates  surge::surrogates (training)
#   client      surge::client (libsurge_client.so: the streaming client's C API
#               <surge/streaming/client.h>, for a solver of one's own in C or C++) and, when built
#               with a Fortran compiler, surge::client_fortran (module surge_client); the Python
#               module surge_client in lib/python3/dist-packages
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

foreach(target surge_core_base surge_core surge_reservoir surge_surrogate surge_surrogates
               surge_client)
  target_include_directories(${target} PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
# The shared libraries find each other next to themselves, and a LibTorch, yaml-cpp or ZeroMQ
# outside the system directories where they were linked from.
set_target_properties(surge_core_base surge_surrogate surge_client PROPERTIES
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
surge_install_export(client surge_client)

# A Fortran module of a component (surge_<name>: surrogate, client): its library in export set
# <name>-fortran and its .mod file in include/surge/fortran, when surge was built with a Fortran
# compiler; its source in share/surge/fortran in any case, for another Fortran compiler (a .mod
# file only suits the compiler that wrote it).
function(surge_install_fortran_module name source)
  install(FILES ${source} DESTINATION ${CMAKE_INSTALL_DATADIR}/surge/fortran)
  set(target surge_${name}_fortran)
  if(NOT TARGET ${target})
    return()
  endif()
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
  surge_install_export(${name}-fortran ${target})
  get_target_property(module_dir ${target} Fortran_MODULE_DIRECTORY)
  install(FILES ${module_dir}/surge_${name}.mod
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/surge/fortran)
  set_property(TARGET ${target} APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES
               $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/surge/fortran>)
endfunction()
surge_install_fortran_module(surrogate ${CMAKE_SOURCE_DIR}/surrogates/src/surge_surrogate.f90)
surge_install_fortran_module(client ${CMAKE_SOURCE_DIR}/streaming/fortran/surge_client.f90)

# The Python module, told where the installed library is (relative to itself, so that the
# prefix can move): PYTHONPATH=<prefix>/lib/python3/dist-packages, a directory Debian's
# python3 searches by itself for the prefixes /usr/local and /usr.
set(SURGE_PYTHON_INSTALL_DIR lib/python3/dist-packages)
set(python_source ${CMAKE_SOURCE_DIR}/streaming/python/surge_client.py)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${python_source})
file(RELATIVE_PATH library_dir /${SURGE_PYTHON_INSTALL_DIR} /${CMAKE_INSTALL_LIBDIR})
file(READ ${python_source} python_text)
string(REPLACE "_INSTALLED_LIBRARY_DIR = None" "_INSTALLED_LIBRARY_DIR = \"${library_dir}\""
       installed_text "${python_text}")
if(installed_text STREQUAL python_text)
  message(FATAL_ERROR "surge: ${python_source} has no line `_INSTALLED_LIBRARY_DIR = None`")
endif()
file(WRITE ${CMAKE_BINARY_DIR}/install/python/surge_client.py "${installed_text}")
install(FILES ${CMAKE_BINARY_DIR}/install/python/surge_client.py
        DESTINATION ${SURGE_PYTHON_INSTALL_DIR})

install(DIRECTORY ${CMAKE_SOURCE_DIR}/core/include/ ${CMAKE_SOURCE_DIR}/reservoir/include/
                  ${CMAKE_SOURCE_DIR}/surrogates/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
# Of streaming/, the client's C API only: the rest needs libraries that are not installed.
install(FILES ${CMAKE_SOURCE_DIR}/streaming/include/surge/streaming/client.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/surge/streaming)
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
