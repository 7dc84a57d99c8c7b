# What the lint area builds on, compiled into the engine so that a wheel needs no system library:
# - codedag_tree_sitter: tree-sitter's C runtime and its Python grammar, built from the pinned PyPI
#   sdists that scripts/fetch_parser_sources.sh downloads (checksum-verified, never committed);
# - codedag_toml: toml++ used header-only (Debian's libtomlplusplus-dev or the sdist's copy; its
#   shared library is not linked) to read [tool.codedag.lint] from pyproject.toml.
enable_language(C)

# An sdist carries them (scripts/bundle_third_party.sh): it builds without reaching PyPI.
if(EXISTS "${CODEDAG_BUNDLE_DIR}/tree-sitter-0.24.0/.complete")
  set(_ts_default_dir "${CODEDAG_BUNDLE_DIR}")
else()
  set(_ts_default_dir "${PROJECT_SOURCE_DIR}/.cache/third_party")
endif()
set(CODEDAG_THIRD_PARTY_DIR "${_ts_default_dir}" CACHE PATH
    "Where scripts/fetch_parser_sources.sh puts the tree-sitter sources")
set(_ts_runtime "${CODEDAG_THIRD_PARTY_DIR}/tree-sitter-0.24.0")
set(_ts_python "${CODEDAG_THIRD_PARTY_DIR}/tree-sitter-python-0.23.6")
if(NOT EXISTS "${_ts_runtime}/.complete" OR NOT EXISTS "${_ts_python}/.complete")
  if(Python_EXECUTABLE)
    set(_fetch_python "${Python_EXECUTABLE}")
  else()
    find_program(_fetch_python NAMES python3 python REQUIRED)
  endif()
  execute_process(
    COMMAND bash "${PROJECT_SOURCE_DIR}/scripts/fetch_parser_sources.sh" "${CODEDAG_THIRD_PARTY_DIR}" "${_fetch_python}"
    RESULT_VARIABLE _fetch_result)
  if(NOT _fetch_result EQUAL 0)
    message(FATAL_ERROR "codedag lint needs the tree-sitter sources: scripts/fetch_parser_sources.sh failed "
                        "(run it by hand to see why, or point CODEDAG_THIRD_PARTY_DIR at a fetched copy)")
  endif()
endif()

# lib.c is the runtime's amalgamation (it includes every other .c); wasm support stays off.
add_library(codedag_tree_sitter STATIC
  "${_ts_runtime}/src/lib.c" "${_ts_python}/src/parser.c" "${_ts_python}/src/scanner.c")
# The grammar finds its tree_sitter/parser.h beside it (the fetch script puts the runtime's there).
target_include_directories(codedag_tree_sitter BEFORE
  PUBLIC "${_ts_runtime}/include"
  PRIVATE "${_ts_python}/src" "${_ts_runtime}/src")
set_target_properties(codedag_tree_sitter PROPERTIES C_STANDARD 11 C_VISIBILITY_PRESET hidden)
# Third-party C: its warnings are not ours to fix; it is optimised even in debug builds (the parser is the hot path).
target_compile_options(codedag_tree_sitter PRIVATE -w -O2)
target_compile_definitions(codedag_tree_sitter PRIVATE _POSIX_C_SOURCE=200112L _DEFAULT_SOURCE)

# CODEDAG_TOMLPP_INCLUDE_DIR: the system's headers or the sdist's copy (cmake/third_party.cmake).
add_library(codedag_toml INTERFACE)
target_include_directories(codedag_toml SYSTEM INTERFACE "${CODEDAG_TOMLPP_INCLUDE_DIR}")
target_compile_definitions(codedag_toml INTERFACE TOML_HEADER_ONLY=1)
