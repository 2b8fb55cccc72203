#!/usr/bin/env bash
# Builds the npm package of the SQLite extension for better-sqlite3,
# target/dist/message-store-sqlite-<version>.tgz: the files beside this
# script, the release library (stripped), the license, and the version of
# the workspace, written into the staged package.json (the one here has none).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/sqlite_ext/node"
stage="$root/target/npm/message-store-sqlite"
dist="$root/target/dist"
cd "$root"

cargo build --release -p message_store_sqlite
version="$(cargo metadata --no-deps --format-version 1 | node -e '
  const meta = JSON.parse(require("fs").readFileSync(0, "utf8"));
  process.stdout.write(meta.packages.find((p) => p.name === "message_store_sqlite").version);
')"
[ -n "$version" ] || { echo "no version for message_store_sqlite in cargo metadata" >&2; exit 1; }

rm -rf "$stage"
mkdir -p "$stage/lib" "$dist"
cp "$here/package.json" "$here/index.js" "$here/index.d.ts" "$here/README.md" "$stage/"
install -m 644 "$root/LICENSE" "$stage/LICENSE"
install -m 755 target/release/libmessage_store_sqlite.so "$stage/lib/"
# Another build of the crate (without its `loadable` feature) writes the same
# file name: refuse a library SQLite could not load.
nm -D --defined-only "$stage/lib/libmessage_store_sqlite.so" | grep -q ' T sqlite3_messagestoresqlite_init$' \
  || { echo "target/release/libmessage_store_sqlite.so has no SQLite entry point: not the loadable build" >&2; exit 1; }
strip --strip-unneeded "$stage/lib/libmessage_store_sqlite.so"

(
  cd "$stage"
  npm pkg set "version=$version"
  npm pack --silent --pack-destination "$dist" >/dev/null
)
tarball="$dist/message-store-sqlite-$version.tgz"
[ -f "$tarball" ] || { echo "npm pack wrote no $tarball" >&2; exit 1; }
echo "$tarball"
