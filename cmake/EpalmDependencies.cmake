# Every third-party dependency is found here, once.

find_package(Threads REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(SQLite3 REQUIRED)
# SHA-256 of configurations and artifacts in the results store.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
# The tokenizer's pre-tokenizer regex needs Unicode categories (\p{L}, \p{N}).
find_package(ICU REQUIRED COMPONENTS uc i18n)
# Media decoding (core/src/media): images, video, audio.
find_package(JPEG REQUIRED)
find_package(PNG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(EPALM_FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale)
pkg_check_modules(EPALM_SNDFILE REQUIRED IMPORTED_TARGET sndfile)
# Plots (PNG and SVG surfaces) for `epalm runs plot|report`.
pkg_check_modules(EPALM_CAIRO REQUIRED IMPORTED_TARGET cairo)
# OpenCV core + imgproc: the image RandAugment runs the cv2 calls of the reference's
# ALBEF code. Debian ships OpenCVConfig.cmake only with libopencv-dev, which pulls
# every module; with just libopencv-imgproc-dev the two libraries are found directly.
# epalm_opencv links them; EPALM_OPENCV_INCLUDE_DIRS is added to the one source file
# that includes OpenCV (so every other file keeps its ccache entries and PCH flags).
find_package(OpenCV QUIET COMPONENTS core imgproc)
add_library(epalm_opencv INTERFACE)
if(OpenCV_FOUND)
  set(EPALM_OPENCV_INCLUDE_DIRS ${OpenCV_INCLUDE_DIRS})
  target_link_libraries(epalm_opencv INTERFACE opencv_imgproc opencv_core)
else()
  find_path(EPALM_OPENCV_INCLUDE_DIR opencv2/imgproc.hpp PATH_SUFFIXES opencv4 REQUIRED)
  find_library(EPALM_OPENCV_CORE_LIBRARY opencv_core REQUIRED)
  find_library(EPALM_OPENCV_IMGPROC_LIBRARY opencv_imgproc REQUIRED)
  set(EPALM_OPENCV_INCLUDE_DIRS ${EPALM_OPENCV_INCLUDE_DIR})
  target_link_libraries(epalm_opencv INTERFACE ${EPALM_OPENCV_IMGPROC_LIBRARY} ${EPALM_OPENCV_CORE_LIBRARY})
endif()

# --- LibTorch -----------------------------------------------------------------
# EPALM_LIBTORCH (CMake or environment variable) names the LibTorch to use: a
# libtorch zip's root or a torch package directory (site-packages/torch). The
# default is the one launch/setup installs under EPALM_HOME.
if(NOT EPALM_LIBTORCH)
  if(DEFINED ENV{EPALM_LIBTORCH})
    set(EPALM_LIBTORCH $ENV{EPALM_LIBTORCH})
  else()
    if(DEFINED ENV{EPALM_HOME})
      set(_home $ENV{EPALM_HOME})
    else()
      set(_home $ENV{HOME}/.cache/epalm)
    endif()
    file(GLOB _venv_torch LIST_DIRECTORIES true ${_home}/venv/lib/python3*/site-packages/torch)
    list(GET _venv_torch 0 EPALM_LIBTORCH)
  endif()
endif()
set(EPALM_LIBTORCH ${EPALM_LIBTORCH} CACHE PATH "LibTorch root (holds share/cmake/Torch)")
if(NOT EXISTS ${EPALM_LIBTORCH}/share/cmake/Torch/TorchConfig.cmake)
  message(FATAL_ERROR "epalm: no LibTorch at '${EPALM_LIBTORCH}' (no share/cmake/Torch/TorchConfig.cmake). "
                      "Run launch/setup, or set EPALM_LIBTORCH to a LibTorch root.")
endif()

# --- CUDA and NCCL (compiled whenever the toolkit is found; no GPU needed) ---------
set(EPALM_HAVE_CUDA OFF)
set(EPALM_HAVE_NCCL OFF)
if(NOT EPALM_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # A100 and H100/H200; override with -DCMAKE_CUDA_ARCHITECTURES=...
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(EPALM_HAVE_CUDA ON)
  elseif(EPALM_CUDA STREQUAL "ON")
    message(FATAL_ERROR "epalm: EPALM_CUDA=ON but no CUDA compiler was found")
  endif()
endif()

# LibTorch's CMake would otherwise probe for a GPU and pick a dozen architectures.
if(EPALM_HAVE_CUDA AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST} AND NOT TORCH_CUDA_ARCH_LIST)
  set(TORCH_CUDA_ARCH_LIST "8.0;9.0")
endif()
# A CUDA LibTorch's own CMake config demands the CUDA toolkit. Without one
# (EPALM_CUDA=OFF with no toolkit, or EPALM_TORCH_CPU_ONLY=ON), link only its
# CPU half, which needs no CUDA library at build or run time.
option(EPALM_TORCH_CPU_ONLY "Link only LibTorch's CPU libraries" OFF)
if(NOT EPALM_HAVE_CUDA AND EXISTS ${EPALM_LIBTORCH}/lib/libtorch_cuda.so)
  find_program(_nvcc nvcc)
  if(NOT _nvcc)
    set(EPALM_TORCH_CPU_ONLY ON)
  endif()
endif()
if(EPALM_TORCH_CPU_ONLY)
  if(EPALM_HAVE_CUDA)
    message(FATAL_ERROR "epalm: EPALM_TORCH_CPU_ONLY=ON needs EPALM_CUDA=OFF")
  endif()
  include(${EPALM_LIBTORCH}/share/cmake/Torch/TorchConfigVersion.cmake)
  set(Torch_VERSION ${PACKAGE_VERSION})
  set(TORCH_INSTALL_PREFIX ${EPALM_LIBTORCH})
  foreach(_lib c10 torch_cpu)
    add_library(epalm_lib_${_lib} SHARED IMPORTED)
    set_target_properties(epalm_lib_${_lib} PROPERTIES IMPORTED_LOCATION ${EPALM_LIBTORCH}/lib/lib${_lib}.so)
  endforeach()
  add_library(epalm_torch_cpu_only INTERFACE)
  target_include_directories(epalm_torch_cpu_only SYSTEM INTERFACE
    ${EPALM_LIBTORCH}/include ${EPALM_LIBTORCH}/include/torch/csrc/api/include)
  target_link_libraries(epalm_torch_cpu_only INTERFACE epalm_lib_torch_cpu epalm_lib_c10 Threads::Threads)
  set(TORCH_LIBRARIES epalm_torch_cpu_only)
  set(TORCH_CXX_FLAGS "")
  message(STATUS "epalm: linking LibTorch's CPU libraries only")
else()
  list(PREPEND CMAKE_PREFIX_PATH ${EPALM_LIBTORCH})
  find_package(Torch REQUIRED)
endif()
if(EPALM_HAVE_CUDA AND NOT TARGET torch_cuda)
  message(STATUS "epalm: this LibTorch has no CUDA; building for CPU only")
  set(EPALM_HAVE_CUDA OFF)
endif()

# A CUDA LibTorch needs NCCL at link and run time. Prefer the NCCL it ships
# beside itself (the wheel's nvidia-nccl) over an older toolkit copy, so one
# libnccl.so.2 serves LibTorch and our own NCCL code; the toolkit's is the fallback.
if(TARGET torch_cuda)
  find_path(EPALM_NCCL_INCLUDE_DIR nccl.h
    HINTS ${EPALM_LIBTORCH}/../nvidia/nccl/include ${CUDAToolkit_INCLUDE_DIRS})
  find_library(EPALM_NCCL_LIBRARY NAMES libnccl.so.2 nccl NAMES_PER_DIR
    HINTS ${EPALM_LIBTORCH}/../nvidia/nccl/lib ${CUDAToolkit_LIBRARY_DIR})
  if(EPALM_NCCL_INCLUDE_DIR AND EPALM_NCCL_LIBRARY)
    add_library(epalm_nccl INTERFACE)
    target_include_directories(epalm_nccl SYSTEM INTERFACE ${EPALM_NCCL_INCLUDE_DIR})
    target_link_libraries(epalm_nccl INTERFACE ${EPALM_NCCL_LIBRARY})
    set(EPALM_HAVE_NCCL ${EPALM_HAVE_CUDA})
  endif()
endif()

# LibTorch bundles its own {fmt} headers (a newer major than Debian's). spdlog
# is built against Debian's, so every target sees Debian's {fmt} first through
# this one-entry directory placed ahead of LibTorch's includes.
get_target_property(_fmt_inc fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
find_path(EPALM_FMT_HEADERS fmt/core.h HINTS ${_fmt_inc} NO_DEFAULT_PATH)
if(NOT EPALM_FMT_HEADERS)
  find_path(EPALM_FMT_HEADERS fmt/core.h)
endif()
set(_fmt_shim ${CMAKE_BINARY_DIR}/fmt-shim)
file(MAKE_DIRECTORY ${_fmt_shim})
file(CREATE_LINK ${EPALM_FMT_HEADERS}/fmt ${_fmt_shim}/fmt SYMBOLIC)
target_include_directories(epalm_build_options SYSTEM BEFORE INTERFACE ${_fmt_shim})

# LibTorch as our targets use it: its flags (the C++ ABI) without its warnings.
add_library(epalm_torch INTERFACE)
target_link_libraries(epalm_torch INTERFACE ${TORCH_LIBRARIES} $<TARGET_NAME_IF_EXISTS:epalm_nccl>)
target_compile_options(epalm_torch INTERFACE $<$<COMPILE_LANGUAGE:CXX>:${TORCH_CXX_FLAGS}>)
if(EPALM_HAVE_NCCL)
  # libtorch_cuda.so calls NCCL: any executable linking LibTorch needs it,
  # not only those linking epalm_distributed. The library only, so the PCH's
  # compile flags stay the same.
  target_link_libraries(epalm_torch INTERFACE ${EPALM_NCCL_LIBRARY})
endif()

if(EPALM_HAVE_CUDA)
  set(EPALM_HAVE_CUDA_NUM 1)
else()
  set(EPALM_HAVE_CUDA_NUM 0)
endif()
if(EPALM_HAVE_NCCL)
  set(EPALM_HAVE_NCCL_NUM 1)
else()
  set(EPALM_HAVE_NCCL_NUM 0)
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/build_config.h.in
               ${CMAKE_BINARY_DIR}/generated/epalm/build_config.h @ONLY)
target_include_directories(epalm_build_options INTERFACE ${CMAKE_BINARY_DIR}/generated)

# The one LibTorch precompiled header, built once and reused by every target
# (epalm_use_torch_pch). It links what those targets link, so their compile
# definitions match the PCH's.
add_library(epalm_torch_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/torch_pch.cpp)
target_link_libraries(epalm_torch_pch PRIVATE epalm_build_options epalm_torch spdlog::spdlog fmt::fmt)
target_precompile_headers(epalm_torch_pch PRIVATE <torch/torch.h>)
target_compile_options(epalm_build_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Winvalid-pch>)

# --- Python peers (parity tests and `epalm bench` only; the product never needs them)
# The interpreter of the environment launch/setup made (transformers, safetensors,
# PyTorch), overridable with -DEPALM_PYTHON=...
if(NOT EPALM_PYTHON)
  get_filename_component(_site ${EPALM_LIBTORCH} DIRECTORY)
  file(GLOB _venv_python ${_site}/../../../bin/python)
  if(NOT _venv_python)
    if(DEFINED ENV{EPALM_HOME})
      set(_venv_python $ENV{EPALM_HOME}/venv/bin/python)
    else()
      set(_venv_python $ENV{HOME}/.cache/epalm/venv/bin/python)
    endif()
  endif()
  set(EPALM_PYTHON ${_venv_python} CACHE FILEPATH "Python with the test peers (transformers, safetensors)")
endif()
