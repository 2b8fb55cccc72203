#!/usr/bin/env bash
# The Rust way in, end to end:
# - tests/sqlite_embed: `message_store_sqlite::register` adds what loading
#   the shipped library adds, and a session on a registered connection;
# - a new project in a throwaway folder depends on this repository by git,
#   as the README says (package message_store_sqlite_rust, rusqlite 0.40
#   with its bundled SQLite), runs the README's example under
#   `#![forbid(unsafe_code)]` and prints its session; the package's version
#   is the workspace's and its checkout carries the LICENSE;
# - the glibc version the SQLite and Postgres libraries need, read from
#   their symbol versions, is printed and must be the one README.md states.
# The git dependency is this checkout's HEAD: commit before running it.
# Its build cache stays in target/packages/rust, so a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
source tests/lib.sh
# libsqlite3-dev: the in-tree test links the system SQLite; build-essential:
# the bundled SQLite is compiled; binutils: objdump; git: cargo fetches the
# dependency with it.
install_packages libsqlite3-dev pkg-config build-essential binutils git python3

fail() {
  echo "rust.sh: FAIL: $*" >&2
  exit 1
}

# The one version: [workspace.package] in the root Cargo.toml.
version="$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\([^"]*\)"$/\1/p' Cargo.toml)"
[ -n "$version" ] || fail "no version in [workspace.package] of Cargo.toml"

# The shipped library, which the in-tree test compares `register` with.
cargo build --release -p message_store_sqlite
cargo test -p message_store_sqlite_embed

# Root may run this on a checkout another user owns: git (and cargo's git)
# would refuse it as a repository of dubious ownership.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0="$root"
head="$(git -C "$root" rev-parse HEAD)" || fail "$root is not a git checkout"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
project="$work/first-session"
mkdir -p "$project/src"
cat >"$project/Cargo.toml" <<EOF
[package]
name = "first-session"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
message_store_sqlite = { git = "file://$root", rev = "$head", package = "message_store_sqlite_rust" }
rusqlite = { version = "0.40", features = ["bundled"] }
EOF
{
  echo '#![forbid(unsafe_code)]'
  git -C "$root" show "$head:tests/sqlite_embed/src/main.rs"
} >"$project/src/main.rs"
export CARGO_NET_GIT_FETCH_WITH_CLI=true
target="${CARGO_TARGET_DIR:-$root/target}/packages/rust"
out="$(CARGO_TARGET_DIR="$target" cargo run --quiet --manifest-path "$project/Cargo.toml")" \
  || fail "the README's example did not build or run against the git dependency"
expected='Opened at position 0
0 Opened {"owner": "ada"}'
[ "$out" = "$expected" ] || fail "the example printed:
$out
expected:
$expected"

# What cargo fetched: the package's version and manifest, and the SQLite
# the program linked (rusqlite's bundled one, newer than Debian's).
metadata="$work/metadata.json"
cargo metadata --format-version 1 --manifest-path "$project/Cargo.toml" >"$metadata"
read -r got manifest sys_manifest sys_features < <(python3 - "$metadata" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
[pkg] = [p for p in meta["packages"] if p["name"] == "message_store_sqlite_rust"]
assert pkg["source"].startswith("git+file://"), pkg["source"]
[sys_pkg] = [p for p in meta["packages"] if p["name"] == "libsqlite3-sys"]
[node] = [n for n in meta["resolve"]["nodes"] if n["id"] == sys_pkg["id"]]
print(pkg["version"], pkg["manifest_path"], sys_pkg["manifest_path"], ",".join(node["features"]) or "-")
EOF
)
[ "$got" = "$version" ] || fail "message_store_sqlite_rust from git is version $got, the workspace's is $version"
checkout="$(cd "$(dirname "$manifest")/../.." && pwd)"
cmp -s "$checkout/LICENSE" "$root/LICENSE" || fail "the git checkout $checkout does not carry the LICENSE"
case ",$sys_features," in
  *,bundled,*) ;;
  *) fail "libsqlite3-sys was built without its bundled SQLite (features: $sys_features)" ;;
esac
bundled="$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"$/\1/p' "$(dirname "$sys_manifest")/sqlite3/sqlite3.h")"
echo "rust.sh: message_store_sqlite_rust $got from git ($head) ran the README's example on rusqlite's bundled SQLite $bundled, LICENSE included"

# The newest glibc symbol version each library uses is the glibc it needs.
glibc_needed() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1
}
pg_lib="$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)/message_store.so"
if [ ! -f "$pg_lib" ]; then
  flock /tmp/pg_install.lock bash tests/install.sh
fi
sqlite_glibc="$(glibc_needed "${CARGO_TARGET_DIR:-$root/target}/release/libmessage_store_sqlite.so")"
pg_glibc="$(glibc_needed "$pg_lib")"
[ -n "$sqlite_glibc" ] && [ -n "$pg_glibc" ] || fail "no GLIBC symbol versions found"
echo "rust.sh: libmessage_store_sqlite.so needs glibc $sqlite_glibc; message_store.so needs glibc $pg_glibc"
newest="$(printf '%s\n%s\n' "$sqlite_glibc" "$pg_glibc" | sort -V | tail -n 1)"
grep -q "glibc $newest or newer" README.md \
  || fail "README.md must state \"glibc $newest or newer\" (the libraries' symbol versions)"
echo "rust.sh: ok"
