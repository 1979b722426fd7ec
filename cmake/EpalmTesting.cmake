# Test harness: GoogleTest through CTest, with labels
#   unit    fast, single process
#   mpi     several processes under mpirun (hard timeout)
#   parity  numerical parity against the Python peers (transformers, PyTorch)
#   slow    minutes rather than seconds
find_package(GTest REQUIRED)
include(GoogleTest)

set(EPALM_MPIRUN_TEST ${CMAKE_SOURCE_DIR}/tests/support/mpirun-test)

# epalm_add_test(NAME <n> SOURCES <light .cpp> [TORCH_SOURCES <.cpp>] [LIBS ...]
#                [LABELS ...] [TIMEOUT <s>] [FIXTURES <fixture>...] [PROPERTIES <ctest property> <value> ...])
#                [BOTH_CPU_MATMULS])
# One executable; each TEST is its own CTest test carrying the labels and
# properties, run after the named fixtures (epalm_add_python_fixture) exist.
# BOTH_CPU_MATMULS runs every test under each library that can multiply
# frozen weights on the CPU (epalm/core/cpu_matmul.h), whichever this CPU
# would pick: EPALM_CPU_MATMUL=libtorch under the test's own name, =onednn
# as <name>/onednn.
function(epalm_add_test)
  cmake_parse_arguments(A "BOTH_CPU_MATMULS" "NAME;TIMEOUT" "SOURCES;TORCH_SOURCES;LIBS;LABELS;FIXTURES;PROPERTIES" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  add_executable(${A_NAME} ${A_SOURCES} ${A_TORCH_SOURCES})
  target_link_libraries(${A_NAME} PRIVATE epalm_build_options GTest::gtest GTest::gtest_main ${A_LIBS})
  epalm_use_torch_pch(${A_NAME} "${A_TORCH_SOURCES}")
  set(_fixtures)
  if(A_FIXTURES)
    set(_fixtures FIXTURES_REQUIRED "${A_FIXTURES}")
  endif()
  # One discovery, or one per library with BOTH_CPU_MATMULS.
  set(_matmuls "reset:")  # the caller's environment: the library this CPU picks
  if(A_BOTH_CPU_MATMULS)
    set(_matmuls "set:libtorch" "set:onednn")
  endif()
  foreach(matmul IN LISTS _matmuls)
    set(_suffix)
    if(matmul STREQUAL "set:onednn")
      set(_suffix "/onednn")
    endif()
    gtest_discover_tests(${A_NAME} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60 TEST_SUFFIX "${_suffix}"
      PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT} ${_fixtures}
                 # Runs the tests start record into the build's database, never the user's.
                 ENVIRONMENT "EPALM_RESULTS=${CMAKE_BINARY_DIR}/test-results.sqlite"
                 ENVIRONMENT_MODIFICATION "EPALM_CPU_MATMUL=${matmul}"
                 ${A_PROPERTIES})
  endforeach()
endfunction()

# epalm_add_mpi_test(NAME <n> RANKS <np>... SOURCES ... [TORCH_SOURCES ...] [LIBS ...] [TIMEOUT <s>])
# One executable run as one CTest test per rank count, under mpirun with a hard
# timeout that kills every rank (tests/support/mpirun-test); label `mpi`.
function(epalm_add_mpi_test)
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "RANKS;SOURCES;TORCH_SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 60)
  endif()
  add_executable(${A_NAME} ${A_SOURCES} ${A_TORCH_SOURCES} ${CMAKE_SOURCE_DIR}/tests/support/mpi_test_main.cpp)
  target_link_libraries(${A_NAME} PRIVATE epalm_build_options GTest::gtest epalm_distributed MPI::MPI_CXX ${A_LIBS})
  epalm_use_torch_pch(${A_NAME} "${A_TORCH_SOURCES}")
  foreach(np IN LISTS A_RANKS)
    add_test(NAME ${A_NAME}.np${np} COMMAND ${EPALM_MPIRUN_TEST} ${A_TIMEOUT} ${np} $<TARGET_FILE:${A_NAME}>)
    math(EXPR _ctest_timeout "${A_TIMEOUT} + 30")
    # PROCESSORS lets `ctest -j` count every rank.
    set_tests_properties(${A_NAME}.np${np} PROPERTIES LABELS "mpi;${A_LABELS}" TIMEOUT ${_ctest_timeout}
                         PROCESSORS ${np})
  endforeach()
endfunction()

# --- Python peers: EPALM_PYTHON is found in EpalmDependencies.cmake (`epalm bench` uses it too).

# epalm_add_python_fixture(NAME <fixture> SCRIPT <tests/...py> OUTPUT <dir> [ARGS ...])
# A CTest fixture: runs the Python peer script once to write reference files
# (tiny random checkpoints, expected outputs) into <dir>; tests that need them
# declare FIXTURES_REQUIRED <fixture> and read <dir>.
function(epalm_add_python_fixture)
  cmake_parse_arguments(A "" "NAME;SCRIPT;OUTPUT" "ARGS" ${ARGN})
  add_test(NAME ${A_NAME}.generate COMMAND ${EPALM_PYTHON} ${CMAKE_SOURCE_DIR}/${A_SCRIPT} ${A_OUTPUT} ${A_ARGS})
  set_tests_properties(${A_NAME}.generate PROPERTIES FIXTURES_SETUP ${A_NAME} LABELS parity TIMEOUT 600)
endfunction()
