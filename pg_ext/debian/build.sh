#!/usr/bin/env bash
# Builds the Debian package of the Postgres extension,
# target/dist/postgresql-15-message-store_<version>_<arch>.deb: the files
# `cargo pgrx package` stages (the library, the control file, the current
# install script, the upgrade scripts), the frozen install scripts of earlier
# releases, the license, and DEBIAN/control from the template beside this
# script, with the version the workspace gives the control file.
set -euo pipefail
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
package=postgresql-15-message-store
stage="$root/target/deb/$package"
dist="$root/target/dist"

rm -rf "$stage"
mkdir -p "$dist"
# tests/install.sh links target/release's library with other features (the
# panic probe) under this lock: building at the same time could stage that one.
(
  cd "$root/pg_ext"   # cargo-pgrx copies the upgrade scripts from the current directory's sql/
  flock /tmp/pg_install.lock cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$stage"
)
pkglibdir="$stage$("$PG_CONFIG" --pkglibdir)"
extension_dir="$stage$("$PG_CONFIG" --sharedir)/extension"
bash "$root/pg_ext/debian/install-frozen-scripts.sh" "$extension_dir"
# Symbols only the linker needs go; the functions' dynamic symbols stay.
strip --strip-unneeded "$pkglibdir/message_store.so"
chmod 644 "$pkglibdir/message_store.so"
install -D -m 644 "$root/LICENSE" "$stage/usr/share/doc/$package/copyright"

# The version is the control file's, which cargo-pgrx takes from the
# workspace; a SemVer pre-release (1.0.0-rc.1) sorts before its release in
# Debian only with a tilde (1.0.0~rc.1).
version="$(sed -n "s/^default_version = '\(.*\)'$/\1/p" "$extension_dir/message_store.control")"
[ -n "$version" ] || { echo "no default_version in $extension_dir/message_store.control" >&2; exit 1; }
deb_version="${version//-/\~}"
arch="$(dpkg --print-architecture)"
installed_size="$(du -sk --apparent-size "$stage/usr" | cut -f1)"
mkdir -p "$stage/DEBIAN"
sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
  "$root/pg_ext/debian/control" >"$stage/DEBIAN/control"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
find "$stage" -type d -exec chmod 755 {} +

deb="$dist/${package}_${deb_version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb"
echo "$deb"
