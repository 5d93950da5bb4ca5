# Helpers that give every hand-written target the same flags.
include_guard(GLOBAL)
include(GoogleTest)

# GCC 12 reports a false -Wfree-nonheap-object inside abseil's flat_hash_map at -O2.
set(CREDITD_WARNINGS -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough
    $<$<CXX_COMPILER_ID:GNU>:-Wno-free-nonheap-object>)

# creditd_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Adds library creditd_<name> with alias creditd::<name>; include paths are
# rooted at the source tree ("dsl/parser.h").
function(creditd_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(creditd_${name} STATIC ${ARG_SOURCES})
  add_library(creditd::${name} ALIAS creditd_${name})
  target_include_directories(creditd_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(creditd_${name} PRIVATE ${CREDITD_WARNINGS})
  target_link_libraries(creditd_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# creditd_executable(<name> SOURCES ... [DEPS ...])
function(creditd_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${CREDITD_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# creditd_test(<name> SOURCES ... [DEPS ...] [LABELS ...])
# A GoogleTest binary registered with ctest; every test carries its labels.
function(creditd_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${CREDITD_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${ARG_LABELS}"
    DISCOVERY_TIMEOUT 60)
endfunction()
