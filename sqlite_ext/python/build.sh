#!/usr/bin/env bash
# Builds the Python wheel of the SQLite extension,
# target/dist/message_store_sqlite-<version>-py3-none-<platform>.whl: the
# package beside this script, the release library (stripped), the license,
# the workspace's version, and the platform tag the library's symbol
# versions allow, built by setuptools through pip (PEP 517).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/sqlite_ext/python"
stage="$root/target/python/stage"
dist="$root/target/dist"
python="${PYTHON:-python3}"
cd "$root"

"$python" -m pip --version >/dev/null 2>&1 \
  || { echo "$python has no pip to build the wheel with (Debian: apt-get install python3-pip)" >&2; exit 1; }
cargo build --release -p message_store_sqlite
version="$(cargo metadata --no-deps --format-version 1 | "$python" -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "message_store_sqlite"))
')"
[ -n "$version" ] || { echo "no version for message_store_sqlite in cargo metadata" >&2; exit 1; }

rm -rf "$stage"
mkdir -p "$stage" "$dist"
cp -r "$here/pyproject.toml" "$here/setup.py" "$here/README.md" "$here/src" "$stage/"
install -m 644 "$root/LICENSE" "$stage/LICENSE"
printf '%s\n' "$version" >"$stage/VERSION"
lib="$stage/src/message_store_sqlite/libmessage_store_sqlite.so"
install -m 755 target/release/libmessage_store_sqlite.so "$lib"
# Another build of the crate (without its `loadable` feature) writes the same
# file name: refuse a library SQLite could not load.
nm -D --defined-only "$lib" | grep -q ' T sqlite3_messagestoresqlite_init$' \
  || { echo "target/release/libmessage_store_sqlite.so has no SQLite entry point: not the loadable build" >&2; exit 1; }
strip --strip-unneeded "$lib"

# manylinux_2_<N>_x86_64 holds when the library is x86_64, links only
# libraries every glibc system has, and needs no glibc newer than 2.<N>;
# otherwise the wheel says only linux_x86_64.
platform=linux_x86_64
needed="$(objdump -p "$lib" | awk '$1 == "NEEDED" { print $2 }')"
if objdump -f "$lib" | grep -q 'architecture: i386:x86-64' \
  && ! grep -qvxE 'libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2' <<<"$needed"; then
  glibc="$(objdump -T "$lib" | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -n 1)"
  [ -n "$glibc" ] && platform="manylinux_2_${glibc#GLIBC_2.}_x86_64"
fi
printf '%s\n' "$platform" >"$stage/PLATFORM"

wheel="message_store_sqlite-$version-py3-none-$platform.whl"
rm -f "$dist"/message_store_sqlite-*.whl
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$dist" "$stage"
[ -f "$dist/$wheel" ] || { echo "pip wheel wrote no $dist/$wheel" >&2; ls "$dist" >&2; exit 1; }
echo "$dist/$wheel"
