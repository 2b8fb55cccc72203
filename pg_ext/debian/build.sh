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
source "$root/tests/lib.sh"
install_packages dpkg-dev binutils   # dpkg-shlibdeps, strip

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
# The shared libraries it links (libc6 at the version its symbols need,
# libgcc-s1 for unwinding), as Debian's own packages compute them;
# dpkg-shlibdeps reads a source package's debian/control, hence the stub.
shlibs_dir="$root/target/deb/shlibs"
mkdir -p "$shlibs_dir/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$package" "$package" >"$shlibs_dir/debian/control"
shlibs="$(cd "$shlibs_dir" && dpkg-shlibdeps -O "$pkglibdir/message_store.so" | sed -n 's/^shlibs:Depends=//p')"
[ -n "$shlibs" ] || { echo "dpkg-shlibdeps found no dependency of message_store.so" >&2; exit 1; }
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
  -e "s/@SHLIBS@/$shlibs/" "$root/pg_ext/debian/control" >"$stage/DEBIAN/control"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
find "$stage" -type d -exec chmod 755 {} +

deb="$dist/${package}_${deb_version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb"
echo "$deb"
