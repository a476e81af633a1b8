# CMake package configuration of the lindiff C++ kernel (header-only).
#
#   find_package(lindiff CONFIG REQUIRED)                    # lindiff::lindiff
#   find_package(lindiff CONFIG REQUIRED COMPONENTS eigen)   # also lindiff::eigen; fails without Eigen
#
# Targets
#   lindiff::lindiff  the headers that need only the standard library: <lindiff/api.hpp> (one-call
#                     API), kappa.hpp, spectrum.hpp, roots.hpp, sampler.hpp, contour.hpp,
#                     density.hpp, spectral_tree.hpp, compress_bound.hpp, lapack.hpp, rng.hpp,
#                     fastmath.hpp, common.hpp.  C++20.
#   lindiff::eigen    lindiff::lindiff + Eigen 3.4 (Eigen3::Eigen): <lindiff/api_eigen.hpp>,
#                     fixed_point.hpp, simulate.hpp, memorization.hpp and the umbrella lindiff.hpp.
#                     Defined when Eigen is found: from the PyPI package cmeel-eigen installed next
#                     to lindiff (<site-packages>/cmeel.prefix), or a user's Eigen3 (Eigen3_DIR,
#                     CMAKE_PREFIX_PATH, system paths).  Request it with COMPONENTS eigen to make a
#                     missing Eigen a configure error with instructions.
#
# Variables: lindiff_INCLUDE_DIR, lindiff_eigen_FOUND (and lindiff_VERSION from the version file).
#
# Layout (relocatable: everything is computed from this file's location)
#   <prefix>/include/lindiff/*.hpp
#   <prefix>/share/cmake/lindiff/lindiffConfig.cmake        (this file)
# with <prefix> = <site-packages>/lindiff in an installed wheel, and <repo>/cpp in a source
# checkout (this very file also works from there: -Dlindiff_DIR=<repo>/cpp/share/cmake/lindiff).

if(CMAKE_VERSION VERSION_LESS 3.18)
  set(lindiff_FOUND FALSE)
  set(lindiff_NOT_FOUND_MESSAGE "lindiff needs CMake >= 3.18 (this is ${CMAKE_VERSION})")
  return()
endif()
cmake_policy(VERSION 3.18...3.31)  # find_package gives this file its own policy scope

get_filename_component(_lindiff_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(lindiff_INCLUDE_DIR "${_lindiff_prefix}/include")
if(NOT EXISTS "${lindiff_INCLUDE_DIR}/lindiff/api.hpp")
  set(lindiff_FOUND FALSE)
  set(lindiff_NOT_FOUND_MESSAGE
      "lindiff: the headers are missing from ${lindiff_INCLUDE_DIR}/lindiff (a broken install?). "
      "Reinstall with `pip install --force-reinstall lindiff`; `lindiff config --includedir` prints where they should be.")
  unset(_lindiff_prefix)
  return()
endif()

foreach(_lindiff_comp IN LISTS lindiff_FIND_COMPONENTS)
  if(NOT _lindiff_comp STREQUAL "eigen")
    set(lindiff_FOUND FALSE)
    set(lindiff_NOT_FOUND_MESSAGE "lindiff: unknown component '${_lindiff_comp}' (the only component is 'eigen')")
    unset(_lindiff_prefix)
    return()
  endif()
endforeach()

# ---------------------------------------------------------------- lindiff::lindiff
if(NOT TARGET lindiff::lindiff)
  add_library(lindiff::lindiff INTERFACE IMPORTED)
  set_target_properties(lindiff::lindiff PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${lindiff_INCLUDE_DIR}"
    INTERFACE_COMPILE_FEATURES cxx_std_20
    # the kernel's loops carry `#pragma omp simd` reductions: -fopenmp-simd vectorises them as in
    # the Python module (no OpenMP runtime needed) and keeps -Wall free of -Wunknown-pragmas.
    # For parallel batch loops link OpenMP::OpenMP_CXX as well.
    INTERFACE_COMPILE_OPTIONS "$<$<COMPILE_LANG_AND_ID:CXX,GNU,Clang,AppleClang,IntelLLVM>:-fopenmp-simd>")
endif()

# ---------------------------------------------------------------- lindiff::eigen
set(lindiff_eigen_FOUND FALSE)
if(TARGET Eigen3::Eigen)
  set(lindiff_eigen_FOUND TRUE)
else()
  # cmeel-eigen installs Eigen's CMake config under <site-packages>/cmeel.prefix: look next to
  # lindiff itself, next to every CMAKE_PREFIX_PATH entry, and next to every sys.path entry of a
  # Python interpreter the project already found.
  set(_lindiff_eigen_hints "${_lindiff_prefix}/../cmeel.prefix")
  foreach(_lindiff_p IN LISTS CMAKE_PREFIX_PATH)
    list(APPEND _lindiff_eigen_hints "${_lindiff_p}/cmeel.prefix")
  endforeach()
  foreach(_lindiff_py IN ITEMS "${Python_EXECUTABLE}" "${Python3_EXECUTABLE}" "${PYTHON_EXECUTABLE}")
    if(_lindiff_py AND EXISTS "${_lindiff_py}")
      execute_process(
        COMMAND "${_lindiff_py}" -c "import os, sys; print(';'.join(os.path.join(p, 'cmeel.prefix') for p in sys.path if p))"
        OUTPUT_VARIABLE _lindiff_py_hints OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      list(APPEND _lindiff_eigen_hints ${_lindiff_py_hints})
      break()
    endif()
  endforeach()
  find_package(Eigen3 3.4 CONFIG QUIET HINTS ${_lindiff_eigen_hints})
  if(TARGET Eigen3::Eigen)
    set(lindiff_eigen_FOUND TRUE)
  endif()
endif()

set(_lindiff_eigen_help
    "lindiff::eigen needs Eigen 3.4 (api_eigen.hpp, fixed_point.hpp, simulate.hpp, memorization.hpp, "
    "lindiff.hpp), and no Eigen3Config.cmake was found. Either `pip install cmeel-eigen` into the "
    "environment lindiff is installed in (or `pip install \"lindiff[cpp]\"`), or install Eigen 3.4 "
    "(apt install libeigen3-dev, brew install eigen, conda install eigen) and pass "
    "-DEigen3_DIR=<dir containing Eigen3Config.cmake> or add its prefix to CMAKE_PREFIX_PATH. "
    "lindiff::lindiff (api.hpp, kappa.hpp, ...) does not need Eigen.")
string(CONCAT _lindiff_eigen_help ${_lindiff_eigen_help})

if(lindiff_eigen_FOUND)
  if(NOT TARGET lindiff::eigen)
    add_library(lindiff::eigen INTERFACE IMPORTED)
    set_target_properties(lindiff::eigen PROPERTIES INTERFACE_LINK_LIBRARIES "lindiff::lindiff;Eigen3::Eigen")
  endif()
elseif(lindiff_FIND_REQUIRED_eigen)
  set(lindiff_FOUND FALSE)
  set(lindiff_NOT_FOUND_MESSAGE "${_lindiff_eigen_help}")
elseif(NOT lindiff_FIND_QUIETLY)
  message(STATUS "lindiff: Eigen 3.4 not found, so no target lindiff::eigen (lindiff::lindiff is complete). "
                 "To use it: pip install cmeel-eigen, or -DEigen3_DIR=<dir>; request COMPONENTS eigen to fail here instead.")
endif()

if(NOT DEFINED lindiff_FOUND)
  set(lindiff_FOUND TRUE)
endif()
if(lindiff_FOUND AND NOT lindiff_FIND_QUIETLY)
  if(lindiff_eigen_FOUND)
    set(_lindiff_with "lindiff::lindiff, lindiff::eigen (Eigen ${Eigen3_VERSION})")
  else()
    set(_lindiff_with "lindiff::lindiff")
  endif()
  if(lindiff_VERSION)
    message(STATUS "Found lindiff ${lindiff_VERSION}: ${lindiff_INCLUDE_DIR} (${_lindiff_with})")
  else()  # a source checkout has no version file
    message(STATUS "Found lindiff (source tree): ${lindiff_INCLUDE_DIR} (${_lindiff_with})")
  endif()
  unset(_lindiff_with)
endif()

unset(_lindiff_prefix)
unset(_lindiff_comp)
unset(_lindiff_p)
unset(_lindiff_py)
unset(_lindiff_py_hints)
unset(_lindiff_eigen_hints)
unset(_lindiff_eigen_help)
