#!/usr/bin/env bash
# Fetches the SQLite amalgamation (sqlite3.c, sqlite3.h, sqlite3ext.h) that a self-contained build
# compiles into the engine (cmake/third_party.cmake, -DCODEDAG_BUNDLED_SQLITE=ON: `make wheel`, the
# sdist). Debian's libsqlite3.a cannot be used: it is not position-independent, so it does not link
# into the extension module.
#
#   scripts/fetch_sqlite_source.sh DEST_DIR [PYTHON]
#
# Leaves DEST_DIR/sqlite/{sqlite3.c,sqlite3.h,sqlite3ext.h,LICENSE.md}; its .complete holds the
# version, so a new pin fetches again. Quick when there.
#
# Where from: no PyPI package ships the bare amalgamation; the sdist of `sqlean-py` (pinned by
# version and sha256 below) carries SQLite's official amalgamation in sqlite/, with sqlean's
# extension loader appended after the amalgamation's own closing line. That tail is cut off and the
# result checked: SQLite's version and source id as expected, no sqlean code left.
set -euo pipefail
dest=${1:?usage: fetch_sqlite_source.sh DEST_DIR [PYTHON]}
python=${2:-python3}

sqlite_version=3.50.4
sqlite_source_id="2025-07-30 19:33:53 4d8adfb30e03f9cf27f800a2c1ba3c48fb4ca1b08b0f5ed59a4d5ecbf45e20a3"
carrier=sqlean-py
carrier_version=3.50.4.5
carrier_file=sqlean_py-$carrier_version.tar.gz
carrier_sha256=9764b565e7ab430ab6e9e43cb2816199c2b39926dffc93c212a52f0019278459

out="$dest/sqlite"
done_already() { [ "$(cat "$out/.complete" 2>/dev/null)" = "$sqlite_version" ]; }
done_already && exit 0
mkdir -p "$dest"
# Two configures at once (two build directories) must not extract over each other.
exec 9>"$dest/.fetch-sqlite.lock"
flock 9
done_already && exit 0

work=$(mktemp -d "$dest/.fetch-sqlite.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "· fetching the SQLite $sqlite_version amalgamation ($carrier==$carrier_version, a PyPI sdist)"
if ! "$python" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
      -d "$work" "$carrier==$carrier_version" 2> >(grep -v "^WARNING: Location .* is ignored" >&2); then
  echo "✗ could not download $carrier==$carrier_version with '$python -m pip download' (is PyPI reachable?)" >&2
  exit 1
fi
got=$(sha256sum "$work/$carrier_file" | cut -d' ' -f1)
if [ "$got" != "$carrier_sha256" ]; then
  echo "✗ $carrier_file: sha256 $got, expected $carrier_sha256 — refusing to build from it" >&2
  exit 1
fi
tar -xzf "$work/$carrier_file" -C "$work"
src="$work/sqlean_py-$carrier_version/sqlite"
end_marker='/************************** End of sqlite3.c ******************************/'
mkdir -p "$work/out"
# Everything up to and including the amalgamation's closing line.
awk -v end="$end_marker" '{ print } $0 == end { found = 1; exit } END { exit !found }' \
  "$src/sqlite3.c" > "$work/out/sqlite3.c" \
  || { echo "✗ $carrier_file: sqlite/sqlite3.c has no amalgamation closing line" >&2; exit 1; }
cp "$src/sqlite3.h" "$src/sqlite3ext.h" "$work/out/"
for f in sqlite3.c sqlite3.h; do
  grep -q "^#define SQLITE_VERSION  *\"$sqlite_version\"" "$work/out/$f" \
    && grep -q "^#define SQLITE_SOURCE_ID  *\"$sqlite_source_id\"" "$work/out/$f" \
    || { echo "✗ $carrier_file: $f is not SQLite $sqlite_version ($sqlite_source_id)" >&2; exit 1; }
done
if grep -qi sqlean "$work/out/sqlite3.c" "$work/out/sqlite3.h" "$work/out/sqlite3ext.h"; then
  echo "✗ $carrier_file: sqlean code left in the amalgamation after the cut" >&2
  exit 1
fi
cat > "$work/out/LICENSE.md" <<LICENSE
SQLite $sqlite_version ($sqlite_source_id): the official amalgamation, in the public domain
(https://sqlite.org/copyright.html). Taken from the PyPI sdist $carrier_file (sha256
$carrier_sha256), cut at the amalgamation's closing line by scripts/fetch_sqlite_source.sh.
LICENSE
rm -rf "$out"
mv "$work/out" "$out"
echo "$sqlite_version" > "$out/.complete"
echo "✓ SQLite amalgamation in $out"
