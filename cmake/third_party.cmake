# Where each third-party library comes from. A development build (`make setup`) uses the Debian
# packages of scripts/setup_system.sh. A self-contained build (`make wheel`) and a build of the sdist
# on a machine without those packages compile everything in:
# - nlohmann-json, CLI11, toml++ (header-only): the system's when found, else the copies the sdist
#   carries in third_party/bundled/ (scripts/bundle_third_party.sh, run by `make sdist`);
# - cpp-httplib: Debian's (header + libcpp-httplib.so) unless CODEDAG_BUNDLED_HTTPLIB, or when
#   pkg-config finds none: then the single header in third_party/cpp-httplib (its README says why);
# - SQLite: the system's shared library unless CODEDAG_BUNDLED_SQLITE: then the amalgamation,
#   compiled into the engine, from third_party/bundled/sqlite (the sdist) or fetched from PyPI by
#   scripts/fetch_sqlite_source.sh (pinned, checksum-verified).
# Each target the rest of the build links keeps its usual name (nlohmann_json::nlohmann_json,
# CLI11::CLI11, CODEDAG_SQLITE_TARGET, codedag_httplib, CODEDAG_TOMLPP_INCLUDE_DIR).
set(CODEDAG_BUNDLE_DIR "${PROJECT_SOURCE_DIR}/third_party/bundled" CACHE PATH
    "Header-only libraries and the SQLite amalgamation an sdist carries (scripts/bundle_third_party.sh)")

# A header-only library from the bundle, as an imported target of the name its package defines.
function(codedag_bundled_headers target dir probe debian_package)
  set(_include "${CODEDAG_BUNDLE_DIR}/${dir}/include")
  if(NOT EXISTS "${_include}/${probe}")
    message(FATAL_ERROR "${target}: neither installed (Debian: ${debian_package}; run scripts/setup_system.sh) "
                        "nor bundled in ${_include} (an sdist carries it: make sdist)")
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_include}")
  message(STATUS "${target}: the bundled headers in ${_include}")
endfunction()

find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  codedag_bundled_headers(nlohmann_json::nlohmann_json nlohmann_json nlohmann/json.hpp nlohmann-json3-dev)
endif()
find_package(CLI11 QUIET)
if(NOT CLI11_FOUND)
  codedag_bundled_headers(CLI11::CLI11 CLI11 CLI/CLI.hpp libcli11-dev)
endif()
find_path(CODEDAG_TOMLPP_INCLUDE_DIR toml++/toml.h
          HINTS "${CODEDAG_BUNDLE_DIR}/tomlplusplus/include"
          DOC "toml++ headers (Debian: libtomlplusplus-dev; an sdist bundles them)")
if(NOT CODEDAG_TOMLPP_INCLUDE_DIR)
  message(FATAL_ERROR "toml++: neither installed (Debian: libtomlplusplus-dev; run scripts/setup_system.sh) "
                      "nor bundled in ${CODEDAG_BUNDLE_DIR}/tomlplusplus/include (an sdist carries it: make sdist)")
endif()

# ---- cpp-httplib: the panel's HTTP server (only cpp/codedag/server/http_server.cpp includes it) ----
option(CODEDAG_BUNDLED_HTTPLIB "Compile the bundled single-header cpp-httplib in instead of linking libcpp-httplib.so" OFF)
if(NOT CODEDAG_BUNDLED_HTTPLIB)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(CPPHTTPLIB QUIET IMPORTED_TARGET cpp-httplib>=0.11)
  endif()
  if(NOT CPPHTTPLIB_FOUND)
    message(STATUS "cpp-httplib: no system package (Debian: libcpp-httplib-dev), the bundled header is used")
    set(CODEDAG_BUNDLED_HTTPLIB ON)
  endif()
endif()
add_library(codedag_httplib INTERFACE)
if(CODEDAG_BUNDLED_HTTPLIB)
  # Header-only, plain HTTP: no OpenSSL, zlib or brotli to link or ship.
  target_include_directories(codedag_httplib SYSTEM INTERFACE "${PROJECT_SOURCE_DIR}/third_party/cpp-httplib")
  target_link_libraries(codedag_httplib INTERFACE Threads::Threads)
else()
  target_link_libraries(codedag_httplib INTERFACE PkgConfig::CPPHTTPLIB)
endif()

# ---- SQLite: the store and the index ----
if(EXISTS "${CODEDAG_BUNDLE_DIR}/sqlite/sqlite3.c")
  set(_sqlite_bundled_default ON)  # an sdist: its own copy, whatever the machine has
else()
  find_package(SQLite3 QUIET)
  if(SQLite3_FOUND)
    set(_sqlite_bundled_default OFF)
  else()
    set(_sqlite_bundled_default ON)
  endif()
endif()
option(CODEDAG_BUNDLED_SQLITE "Compile the SQLite amalgamation into the engine instead of linking libsqlite3"
       ${_sqlite_bundled_default})
if(CODEDAG_BUNDLED_SQLITE)
  if(EXISTS "${CODEDAG_BUNDLE_DIR}/sqlite/sqlite3.c")
    set(_sqlite_dir "${CODEDAG_BUNDLE_DIR}/sqlite")
  else()
    set(_sqlite_fetch_dir "${PROJECT_SOURCE_DIR}/.cache/third_party")
    if(Python_EXECUTABLE)
      set(_fetch_python "${Python_EXECUTABLE}")
    else()
      find_program(_fetch_python NAMES python3 python REQUIRED)
    endif()
    execute_process(COMMAND bash "${PROJECT_SOURCE_DIR}/scripts/fetch_sqlite_source.sh" "${_sqlite_fetch_dir}"
                            "${_fetch_python}" RESULT_VARIABLE _fetch_result)
    if(NOT _fetch_result EQUAL 0)
      message(FATAL_ERROR "the bundled SQLite needs its amalgamation: scripts/fetch_sqlite_source.sh failed "
                          "(run it by hand to see why), or configure with -DCODEDAG_BUNDLED_SQLITE=OFF to "
                          "link the system's libsqlite3 (Debian: libsqlite3-dev)")
    endif()
    set(_sqlite_dir "${_sqlite_fetch_dir}/sqlite")
  endif()
  enable_language(C)
  add_library(codedag_sqlite STATIC "${_sqlite_dir}/sqlite3.c")
  target_include_directories(codedag_sqlite SYSTEM PUBLIC "${_sqlite_dir}")
  # Hidden: the extension must not export sqlite3_* over the library Python's own sqlite3 module
  # loads. No run-time extension loading (nothing here uses it; it would need libdl's dlopen for
  # arbitrary code). Third-party C: its warnings are not ours to fix.
  set_target_properties(codedag_sqlite PROPERTIES C_VISIBILITY_PRESET hidden POSITION_INDEPENDENT_CODE ON)
  target_compile_definitions(codedag_sqlite PRIVATE SQLITE_THREADSAFE=1 SQLITE_OMIT_LOAD_EXTENSION)
  target_compile_options(codedag_sqlite PRIVATE -w)
  target_link_libraries(codedag_sqlite PUBLIC Threads::Threads m)
  set(CODEDAG_SQLITE_TARGET codedag_sqlite)
  message(STATUS "SQLite: the amalgamation in ${_sqlite_dir}, compiled in")
else()
  find_package(SQLite3 REQUIRED)
  # CMake 4.1 renamed FindSQLite3's target to SQLite3::SQLite3; older CMake only has SQLite::SQLite3.
  if(TARGET SQLite3::SQLite3)
    set(CODEDAG_SQLITE_TARGET SQLite3::SQLite3)
  else()
    set(CODEDAG_SQLITE_TARGET SQLite::SQLite3)
  endif()
endif()

# ---- A wheel's binaries carry their C++ runtime: no libstdc++ of the user's system is needed ----
# libgcc_s stays shared: every manylinux policy lists it, and the static libgcc's unwinder needs
# glibc 2.35's _dl_find_object. CODEDAG_RUNTIME_SOURCES go into each final binary (the CLI, the
# extension): cpp/compat/glibc_arc4random.cpp says why.
option(CODEDAG_STATIC_RUNTIME "Link libstdc++ statically (self-contained wheels)" OFF)
set(CODEDAG_RUNTIME_SOURCES "")
if(CODEDAG_STATIC_RUNTIME)
  # --exclude-libs keeps the runtime's symbols local, so the extension's copy never interposes on
  # the libstdc++ that torch or another extension in the same process uses.
  add_link_options(-static-libstdc++ "LINKER:--exclude-libs,ALL" "LINKER:--wrap=arc4random")
  set(CODEDAG_RUNTIME_SOURCES "${PROJECT_SOURCE_DIR}/cpp/compat/glibc_arc4random.cpp")
endif()
