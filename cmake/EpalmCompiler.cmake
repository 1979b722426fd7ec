# Compiler front: ccache, warnings, and the options every epalm target shares.

if(EPALM_CCACHE)
  find_program(EPALM_CCACHE_PROGRAM ccache)
  if(EPALM_CCACHE_PROGRAM)
    # base_dir/hash_dir let a fresh clone at another path hit the same cache;
    # the sloppiness settings are what ccache needs to cache PCH builds.
    set(_launcher ${CMAKE_COMMAND} -E env
        CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}
        CCACHE_NOHASHDIR=1
        CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
        ${EPALM_CCACHE_PROGRAM})
    set(CMAKE_CXX_COMPILER_LAUNCHER ${_launcher})
    set(CMAKE_CUDA_COMPILER_LAUNCHER ${_launcher})
    message(STATUS "epalm: compiling through ${EPALM_CCACHE_PROGRAM}")
  endif()
endif()

# One interface target carries the shared flags, so every target compiles the
# same way (which the shared precompiled header requires).
add_library(epalm_build_options INTERFACE)
target_compile_options(epalm_build_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wno-unused-parameter>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${EPALM_WERROR}>>:-Werror>)

# epalm_library(NAME <target> SOURCES <light .cpp> [TORCH_SOURCES <.cpp using LibTorch>]
#               [CUDA_SOURCES <.cu>] [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# One library per top-level folder; its public headers live in <folder>/include.
# LibTorch-heavy sources share one precompiled header (see epalm_torch_pch);
# light sources skip it so they compile in a second.
function(epalm_library)
  cmake_parse_arguments(A "" "NAME" "SOURCES;TORCH_SOURCES;CUDA_SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${A_NAME} STATIC ${A_SOURCES} ${A_TORCH_SOURCES} ${A_CUDA_SOURCES})
  target_include_directories(${A_NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${A_NAME} PUBLIC epalm_build_options ${A_PUBLIC_DEPS} PRIVATE ${A_PRIVATE_DEPS})
  epalm_use_torch_pch(${A_NAME} "${A_TORCH_SOURCES}")
endfunction()

# Makes <target> reuse the shared LibTorch PCH for <torch_sources>; every other
# C++ source of the target skips it.
function(epalm_use_torch_pch target torch_sources)
  if(NOT torch_sources)
    return()
  endif()
  target_link_libraries(${target} PRIVATE epalm_torch)
  target_precompile_headers(${target} REUSE_FROM epalm_torch_pch)
  get_target_property(_all ${target} SOURCES)
  foreach(_src IN LISTS _all)
    if(_src MATCHES "\\.cpp$" AND NOT _src IN_LIST torch_sources)
      set_source_files_properties(${_src} TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
endfunction()
