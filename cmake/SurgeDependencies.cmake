# Finds every third-party package surge builds against. Each failure names the Debian
# package (scripts/install-deps.sh installs them all) or the variable that points CMake
# at a user's own build (Kokkos_ROOT, Torch_DIR, HDF5_ROOT, ...).

find_package(MPI REQUIRED COMPONENTS C CXX)

# With both HDF5 flavours installed CMake picks the serial one unless told otherwise.
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "surge needs a parallel (MPI) HDF5: install libhdf5-openmpi-dev "
                      "or point HDF5_ROOT at an MPI-enabled HDF5 build.")
endif()
if(NOT TARGET surge_hdf5)
  add_library(surge_hdf5 INTERFACE)
  target_include_directories(surge_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
  # MPI's C component only in the build: the installed package's surge::core brings libmpi
  # through MPI::MPI_CXX, so that a CXX-only project can use it.
  target_link_libraries(surge_hdf5 INTERFACE ${HDF5_C_LIBRARIES} $<BUILD_INTERFACE:MPI::MPI_C>)
  target_compile_definitions(surge_hdf5 INTERFACE ${HDF5_DEFINITIONS})
endif()

find_package(yaml-cpp REQUIRED)
if(TARGET yaml-cpp::yaml-cpp)
  set(SURGE_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(SURGE_YAML_TARGET yaml-cpp)  # Debian 12's yaml-cpp 0.7 exports the bare name
endif()

# Kokkos: Debian's Trilinos package, or a user's own build through Kokkos_ROOT.
find_package(Kokkos REQUIRED)
# Debian's imported target lists ${prefix}/include, which does not hold Kokkos (the
# headers live in /usr/include/trilinos) and, on some layouts, does not exist at all.
# Replace missing entries by the directory the package config itself reports.
get_target_property(_kokkos_incs Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
set(_kokkos_fixed "")
foreach(_dir IN LISTS _kokkos_incs Kokkos_INCLUDE_DIRS)
  if(_dir AND EXISTS "${_dir}/Kokkos_Core.hpp")
    get_filename_component(_dir "${_dir}" REALPATH)
    list(APPEND _kokkos_fixed "${_dir}")
  endif()
endforeach()
list(REMOVE_DUPLICATES _kokkos_fixed)
if(NOT _kokkos_fixed)
  message(FATAL_ERROR "Kokkos_Core.hpp not found in the include directories of Kokkos::kokkos "
                      "(${_kokkos_incs}) nor in Kokkos_INCLUDE_DIRS (${Kokkos_INCLUDE_DIRS}); "
                      "install libtrilinos-kokkos-dev or set Kokkos_ROOT.")
endif()
set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kokkos_fixed}")
# Read the backend Kokkos was built with; never choose one ourselves.
if(Kokkos_ENABLE_CUDA)
  set(SURGE_KOKKOS_DEVICE "CUDA")
elseif(Kokkos_ENABLE_OPENMP)
  set(SURGE_KOKKOS_DEVICE "OpenMP")
else()
  set(SURGE_KOKKOS_DEVICE "Serial")
endif()
message(STATUS "surge: Kokkos ${Kokkos_VERSION} (${SURGE_KOKKOS_DEVICE}) from ${_kokkos_fixed}")

find_package(cppzmq QUIET)
if(NOT cppzmq_FOUND)
  message(FATAL_ERROR "cppzmq not found: install libzmq3-dev cppzmq-dev or set cppzmq_DIR.")
endif()

# xxHash's XXH3, the streaming protocol's frame checksum (libxxhash-dev).
find_path(SURGE_XXHASH_INCLUDE_DIR xxhash.h)
find_library(SURGE_XXHASH_LIBRARY NAMES xxhash)
if(NOT SURGE_XXHASH_INCLUDE_DIR OR NOT SURGE_XXHASH_LIBRARY)
  message(FATAL_ERROR "libxxhash not found: install libxxhash-dev (>= 0.8) or set "
                      "SURGE_XXHASH_INCLUDE_DIR and SURGE_XXHASH_LIBRARY.")
endif()
if(NOT TARGET surge_xxhash)
  add_library(surge_xxhash INTERFACE IMPORTED)
  set_target_properties(surge_xxhash PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${SURGE_XXHASH_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${SURGE_XXHASH_LIBRARY}")
endif()

# LibTorch (Debian's CPU build, or a user's CUDA build through Torch_DIR).
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  message(FATAL_ERROR "LibTorch not found: install libtorch-dev or set Torch_DIR to "
                      "<libtorch>/share/cmake/Torch.")
endif()
message(STATUS "surge: LibTorch ${Torch_VERSION} from ${Torch_DIR}")
