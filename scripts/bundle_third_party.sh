#!/usr/bin/env bash
# Gathers what the sdist must carry to build on a machine without the Debian -dev packages, so that
# `pip install codedag-*.tar.gz` needs only PyPI's build requirements (scikit-build-core, nanobind,
# cmake, ninja) and a C++20 compiler:
#   nlohmann_json/, CLI11/, tomlplusplus/   the header-only libraries, copied from this machine's
#                                           Debian packages with their copyright files
#   sqlite/                                 the SQLite amalgamation (scripts/fetch_sqlite_source.sh)
#   tree-sitter-*/                          codedag lint's parser sources (scripts/fetch_parser_sources.sh)
# cpp-httplib is committed (third_party/cpp-httplib/README.md says why). cmake/third_party.cmake
# uses a system package when it finds one and these copies otherwise.
#
#   scripts/bundle_third_party.sh DEST_DIR PYTHON      (make sdist: DEST_DIR = third_party/bundled)
set -euo pipefail
dest=${1:?usage: bundle_third_party.sh DEST_DIR PYTHON}
python=${2:?usage: bundle_third_party.sh DEST_DIR PYTHON}
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/third_party"

# header_library NAME DEBIAN_PACKAGE INCLUDE_SUBDIR: /usr/include/INCLUDE_SUBDIR as NAME/include/...
header_library() {
  local name=$1 package=$2 subdir=$3
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    echo "✗ $name: the Debian package $package is not installed (scripts/setup_system.sh installs it)" >&2
    exit 1
  fi
  local version
  version=$(dpkg-query -W -f='${Version}' "$package")
  rm -rf "${dest:?}/$name"
  mkdir -p "$dest/$name/include"
  cp -r "/usr/include/$subdir" "$dest/$name/include/"
  cp "/usr/share/doc/$package/copyright" "$dest/$name/LICENSE"
  echo "$package $version (Debian), /usr/include/$subdir" > "$dest/$name/SOURCE"
}

mkdir -p "$dest"
header_library nlohmann_json nlohmann-json3-dev nlohmann
header_library CLI11 libcli11-dev CLI
header_library tomlplusplus libtomlplusplus-dev toml++

bash "$root/scripts/fetch_sqlite_source.sh" "$cache" "$python" >/dev/null
rm -rf "$dest/sqlite"
cp -r "$cache/sqlite" "$dest/sqlite"

bash "$root/scripts/fetch_parser_sources.sh" "$cache" "$python" >/dev/null
for d in "$cache"/tree-sitter-*/; do
  rm -rf "$dest/$(basename "$d")"
  cp -r "$d" "$dest/"
done
echo "✓ third-party sources for the sdist in $dest: $(cd "$dest" && ls | tr '\n' ' ')"
