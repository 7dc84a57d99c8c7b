#!/usr/bin/env bash
# Builds the sdist into dist/ (make sdist): the tracked sources plus third_party/bundled/
# (scripts/bundle_third_party.sh), so that it builds with PyPI's build requirements only.
# (docs/packaging.md)
#
#   scripts/build_sdist.sh VENV_PYTHON      (a venv with scikit-build-core)
set -euo pipefail
python=${1:?usage: build_sdist.sh VENV_PYTHON}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# The bundle lives in the tree only while the sdist is made: a development build configured later
# must keep using the system packages (cmake/third_party.cmake prefers a bundle it finds).
trap 'rm -rf third_party/bundled' EXIT
bash scripts/bundle_third_party.sh third_party/bundled "$python"
mkdir -p dist
rm -f dist/codedag-*.tar.gz
# scikit-build-core's PEP 517 hook, as `python -m build --sdist` would call it (no extra tool needed).
name=$("$python" -c 'from scikit_build_core.build import build_sdist; print("\nsdist:", build_sdist("dist"))' | sed -n "s/^sdist: //p")
sdist="dist/$name"
# The bundle is git-ignored: check that pyproject's sdist.include took it in.
listing=$(tar -tzf "$sdist")
for must in third_party/bundled/sqlite/sqlite3.c third_party/bundled/nlohmann_json/include/nlohmann/json.hpp \
            third_party/bundled/CLI11/include/CLI/CLI.hpp third_party/bundled/tomlplusplus/include/toml++/toml.h \
            third_party/bundled/tree-sitter-0.24.0/.complete third_party/cpp-httplib/httplib.h; do
  grep -q "/$must\$" <<<"$listing" || { echo "✗ $sdist lacks $must"; exit 1; }
done
echo "✓ $sdist ($(du -k "$sdist" | cut -f1) KB, $(wc -l <<<"$listing") files)"
