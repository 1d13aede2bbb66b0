# SPDX-License-Identifier: MIT
# Build helpers shared by the core, the executables, the plugins and the tests.

# One interface target carries the house compile options; every mtw target links it.
add_library(mtw_compile_options INTERFACE)
add_library(mtw::compile_options ALIAS mtw_compile_options)
target_compile_options(mtw_compile_options INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
    $<$<BOOL:${MTW_WERROR}>:-Werror>)
target_compile_definitions(mtw_compile_options INTERFACE
    QT_NO_KEYWORDS
    QT_NO_CAST_FROM_ASCII
    QT_NO_CAST_FROM_BYTEARRAY
    QT_NO_URL_CAST_FROM_STRING
    QT_NO_FOREACH
    QT_NO_CONTEXTLESS_CONNECT
    QT_DISABLE_DEPRECATED_BEFORE=0x060400)
if(MTW_ASAN)
    target_compile_options(mtw_compile_options INTERFACE
        -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(mtw_compile_options INTERFACE -fsanitize=address,undefined)
endif()
if(MTW_FUZZ)
    # Coverage for libFuzzer in every mtw object; UB aborts so that libFuzzer counts it as a crash.
    # Only the fuzz targets link the libFuzzer runtime (mtw_add_fuzzer).
    target_compile_options(mtw_compile_options INTERFACE
        -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer)
    target_link_options(mtw_compile_options INTERFACE -fsanitize=address,undefined)
endif()
if(MTW_TSAN)
    # Qt itself is not instrumented; cmake/tsan.supp names the races inside Qt we cannot fix.
    target_compile_options(mtw_compile_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(mtw_compile_options INTERFACE -fsanitize=thread)
endif()

# mtw_add_test(<name> SOURCES <files...> [LIBS <targets...>] [ENV <VAR=value...>])
# A Qt Test executable registered with CTest. Tests run on the offscreen platform
# without glib, as the server does.
# A test that runs longer has hung. Sanitized code runs 2-5x slower (ThreadSanitizer most).
if(MTW_ASAN OR MTW_TSAN)
    set(MTW_TEST_TIMEOUT 540)
else()
    set(MTW_TEST_TIMEOUT 180)
endif()

function(mtw_add_test name)
    cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;ENV" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE Qt6::Test mtw::compile_options ${ARG_LIBS})
    # The test's own code is not optimised: it drives the server (built as configured) and Qt,
    # and half of a build's compile time went into optimising test code (-O0 here: 60 % less).
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${name} PRIVATE -O0)
    endif()
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/tests")
    target_compile_definitions(${name} PRIVATE
        MTW_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data"
        MTW_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
        MTW_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES
        ENVIRONMENT "QT_QPA_PLATFORM=offscreen;QT_NO_GLIB=1;${ARG_ENV}"
        TIMEOUT ${MTW_TEST_TIMEOUT})
endfunction()

# mtw_add_plugin(<name> SOURCES <files...> [LIBS <targets...>] [OUTPUT_DIRECTORY <dir>])
# A drop-in module: a MODULE library that sees only the public <mtw/...> headers.
function(mtw_add_plugin name)
    cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES;LIBS" ${ARGN})
    add_library(${name} MODULE)
    # qt_add_plugin() in 6.4 drops sources passed to it; plain target_sources works everywhere.
    target_sources(${name} PRIVATE ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE mtw::core mtw::compile_options ${ARG_LIBS})
    if(NOT ARG_OUTPUT_DIRECTORY)
        set(ARG_OUTPUT_DIRECTORY "${MTW_PLUGIN_OUTPUT_DIRECTORY}")
    endif()
    set_target_properties(${name} PROPERTIES
        PREFIX ""
        LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
    # Shipped plugins install where mtwserver looks (<libdir>/mtw/plugins); test fixtures do not.
    if(ARG_OUTPUT_DIRECTORY STREQUAL MTW_PLUGIN_OUTPUT_DIRECTORY)
        install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/mtw/plugins)
    endif()
endfunction()

# mtw_add_fuzzer(<name> SOURCES <files...> [LIBS <targets...>])
# A libFuzzer executable (MTW_FUZZ builds only), written to <build>/fuzz/<name>. Its corpus is
# tests/fuzz/corpus/<name>/ and its dictionary, if any, tests/fuzz/<name>.dict.
function(mtw_add_fuzzer name)
    cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE mtw::compile_options ${ARG_LIBS})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/fuzz")
endfunction()
