# `cmake --install`: headers, the libraries a surrogate user needs (core, reservoir,
# surrogates and their interface helpers) and an exported CMake package, so that another
# project does
#   find_package(surge REQUIRED)
#   target_link_libraries(app PRIVATE surge::surrogates)
# The package finds MPI, yaml-cpp, Threads and LibTorch again (surgeConfig.cmake).
if(NOT TARGET surge_surrogates OR NOT TARGET surge_reservoir)
  return()
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

foreach(target surge_core surge_reservoir surge_surrogates)
  target_include_directories(${target} PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
set_target_properties(surge_core PROPERTIES EXPORT_NAME core)
set_target_properties(surge_reservoir PROPERTIES EXPORT_NAME reservoir)
set_target_properties(surge_hdf5 PROPERTIES EXPORT_NAME hdf5)
# Linked PRIVATE by the static libraries: exported as link-only (no compile options leak).
set_target_properties(surge_warnings PROPERTIES EXPORT_NAME warnings)

install(TARGETS surge_core surge_reservoir surge_surrogates surge_hdf5 surge_warnings
        EXPORT surgeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/core/include/ ${CMAKE_SOURCE_DIR}/reservoir/include/
                  ${CMAKE_SOURCE_DIR}/surrogates/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/generated/surge/core/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/surge/core)

set(SURGE_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/surge)
install(EXPORT surgeTargets NAMESPACE surge:: DESTINATION ${SURGE_CMAKE_INSTALL_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/surgeConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/cmake/surgeConfig.cmake
                              INSTALL_DESTINATION ${SURGE_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/surgeConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/surgeConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake/surgeConfigVersion.cmake
        DESTINATION ${SURGE_CMAKE_INSTALL_DIR})
