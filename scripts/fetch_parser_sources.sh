#!/usr/bin/env bash
# Fetches the C sources of the Python parser that `codedag lint` compiles in statically: the
# tree-sitter runtime (shipped in the PyPI sdist of `tree-sitter`) and the Python grammar (the sdist
# of `tree-sitter-python`). Both are pinned by version and sha256; nothing is committed to the repo.
#
#   scripts/fetch_parser_sources.sh DEST_DIR [PYTHON]
#
# Leaves DEST_DIR/tree-sitter-<v>/{include,src} and DEST_DIR/tree-sitter-python-<v>/src, plus each
# package's LICENSE. Quick when they are already there. Called by CMake at configure time.
#
# Why these versions: the grammar's generated parser.c must carry an ABI the runtime accepts
# (LANGUAGE_VERSION 14 here; runtime 0.24 takes 13..14) and compile against the grammar header of
# its generation: the sdist of tree-sitter-python 0.23.6 ships no src/tree_sitter/parser.h, so the
# runtime's own copy (lib/src/parser.h, alloc.h, array.h: the headers generated grammars include) is
# put there; without it the compiler would find an older system <tree_sitter/parser.h>. Runtime 0.25
# changed that header's TSLanguage layout, and tree-sitter-python 0.25.0's sdist lacks src/scanner.c
# (the indentation scanner), so both stay on the 0.24 generation.
set -euo pipefail
dest=${1:?usage: fetch_parser_sources.sh DEST_DIR [PYTHON]}
python=${2:-python3}

runtime_version=0.24.0
runtime_sha256=abd95af65ca2f4f7eca356343391ed669e764f37748b5352946f00f7fc78e734
grammar_version=0.23.6
grammar_sha256=354bfa0a2f9217431764a631516f85173e9711af2c13dbd796a8815acfe505d9

runtime_dir="$dest/tree-sitter-$runtime_version"
grammar_dir="$dest/tree-sitter-python-$grammar_version"
[ -f "$runtime_dir/.complete" ] && [ -f "$grammar_dir/.complete" ] && exit 0

mkdir -p "$dest"
# Two configures at once (two build directories) must not extract over each other.
exec 9>"$dest/.fetch.lock"
flock 9
[ -f "$runtime_dir/.complete" ] && [ -f "$grammar_dir/.complete" ] && exit 0

work=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "· fetching parser sources: tree-sitter==$runtime_version, tree-sitter-python==$grammar_version (PyPI sdists)"
# pip prepares an sdist's metadata before saving it; reusing the interpreter's setuptools is faster
# than an isolated build environment, when it has one.
isolation=()
"$python" -c 'import setuptools' 2>/dev/null && isolation=(--no-build-isolation)
if ! "$python" -m pip download -q --disable-pip-version-check --no-deps "${isolation[@]}" --no-binary :all: \
      -d "$work" "tree-sitter==$runtime_version" "tree-sitter-python==$grammar_version" \
      2> >(grep -v "^WARNING: Location .* is ignored" >&2); then
  echo "✗ could not download the parser sources with '$python -m pip download' (is PyPI reachable?)" >&2
  exit 1
fi

check() {  # file sha256
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "✗ $(basename "$1"): sha256 $got, expected $2 — refusing to build from it" >&2
    exit 1
  fi
}
check "$work/tree-sitter-$runtime_version.tar.gz" "$runtime_sha256"
check "$work/tree_sitter_python-$grammar_version.tar.gz" "$grammar_sha256"

tar -xzf "$work/tree-sitter-$runtime_version.tar.gz" -C "$work"
tar -xzf "$work/tree_sitter_python-$grammar_version.tar.gz" -C "$work"
rm -rf "$runtime_dir" "$grammar_dir"
mkdir -p "$runtime_dir" "$grammar_dir"
cp -r "$work/tree-sitter-$runtime_version/tree_sitter/core/lib/include" \
      "$work/tree-sitter-$runtime_version/tree_sitter/core/lib/src" "$runtime_dir/"
cp "$work/tree-sitter-$runtime_version/LICENSE" "$runtime_dir/"
cp -r "$work/tree_sitter_python-$grammar_version/src" "$grammar_dir/"
mkdir -p "$grammar_dir/src/tree_sitter"
for h in parser.h alloc.h array.h ts_assert.h; do
  cp "$work/tree-sitter-$runtime_version/tree_sitter/core/lib/src/$h" "$grammar_dir/src/tree_sitter/"
done
cp "$work/tree_sitter_python-$grammar_version/LICENSE" "$grammar_dir/"
touch "$runtime_dir/.complete" "$grammar_dir/.complete"
echo "✓ parser sources in $dest"
