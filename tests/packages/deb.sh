#!/usr/bin/env bash
# The Debian package of the Postgres extension, end to end, as an
# administrator uses it: builds target/dist/postgresql-15-message-store_*.deb
# (or tests the file MESSAGE_STORE_DEB names), checks its version and files,
# installs it with apt-get, then in new databases: CREATE EXTENSION, a session
# of writes and reads, the oldest release updated with the packaged scripts,
# and the conformance corpus (tests/pg_client/tests/corpus.rs, a fresh
# database per file). Removing the package must remove every file it
# installed. The package and `cargo pgrx install` write the same files, so the
# installed extension's files are removed first, and tests/install.sh puts
# them back at the end, also when a check fails: the machine is left as it
# was found. Run it after the other Postgres tests. Needs root (or sudo) and
# the cluster of tests/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
source tests/lib.sh
install_packages postgresql-15 postgresql-client-15 python3 binutils

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
package=postgresql-15-message-store
pkglibdir="$("$PG_CONFIG" --pkglibdir)"
extension_dir="$("$PG_CONFIG" --sharedir)/extension"
conn="${MESSAGE_STORE_TEST_PG:-host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres}"
databases=(ms_deb_current ms_deb_oldest)

fail() {
  echo "deb.sh: FAIL: $*" >&2
  exit 1
}
expect() { # expect <what> <expected> <actual>
  [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}
sql() { # sql <database> <statement>: the result rows, unaligned
  PGOPTIONS="-c client_min_messages=warning" psql "$conn dbname=$1" -X -q -v ON_ERROR_STOP=1 -At -c "$2"
}
# Every file and link under the extension's two directories.
extension_files() {
  find "$pkglibdir" "$extension_dir" -mindepth 1 -maxdepth 1 ! -type d | sort
}

version="$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "message_store"))')"
deb_version="${version//-/\~}"
arch="$(dpkg --print-architecture)"

if [ -n "${MESSAGE_STORE_DEB:-}" ]; then
  deb="$(realpath "$MESSAGE_STORE_DEB")"
else
  deb="$(bash pg_ext/debian/build.sh | tail -1)"
  expect "package file" "$root/target/dist/${package}_${deb_version}_${arch}.deb" "$deb"
fi
echo "deb.sh: testing $deb"

# The package's fields and files, before anything is installed.
expect "Package" "$package" "$(dpkg-deb -f "$deb" Package)"
expect "Version (the workspace's)" "$deb_version" "$(dpkg-deb -f "$deb" Version)"
expect "Architecture" "$arch" "$(dpkg-deb -f "$deb" Architecture)"
depends="$(dpkg-deb -f "$deb" Depends)"
expect "Depends' first package" "postgresql-15" "${depends%%,*}"
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || fail "no Maintainer"
[ -n "$(dpkg-deb -f "$deb" Description)" ] || fail "no Description"
expected_files="$(
  {
    echo "$pkglibdir/message_store.so"
    echo "$extension_dir/message_store.control"
    echo "$extension_dir/message_store--$version.sql"
    for script in sql/message_store--*.sql; do echo "$extension_dir/$(basename "$script")"; done
    echo "/usr/share/doc/$package/copyright"
  } | sort -u
)"
packaged_files="$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $NF); print $NF }' | sort)"
expect "the package's files" "$expected_files" "$packaged_files"
# The oldest release: the oldest frozen install script.
oldest="$(for script in sql/message_store--*.sql; do basename "$script" .sql; done |
  grep -v -- '--.*--' | sed 's/^message_store--//' | sort -V | head -1)"
[ -n "$oldest" ] || fail "no frozen install script in sql/"
all_versions="$(for script in sql/message_store--*.sql; do basename "$script" .sql; done |
  grep -v -- '--.*--' | sed 's/^message_store--//'; echo "$version")"
all_versions="$(echo "$all_versions" | sort -u -V | paste -sd ' ')"

# The corpus' test binary is built before the extension's files go.
cargo test --release -p message_store_pg_tests --test corpus --no-run

# The rest holds the lock tests/install.sh runs under, so no install runs
# in between; it is released before the reinstall, which takes it itself.
exec 9>/tmp/pg_install.lock
flock 9
found_files="$(extension_files)"
restore() {
  local rc=$?
  trap - EXIT
  set +e
  if dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q installed; then
    as_root apt-get purge -y -q "$package" >/dev/null
  fi
  for db in "${databases[@]}"; do sql postgres "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
  flock -u 9
  echo "deb.sh: reinstalling the extension with tests/install.sh"
  flock /tmp/pg_install.lock bash tests/install.sh >/tmp/deb-reinstall.log 2>&1 ||
    { cat /tmp/deb-reinstall.log >&2; echo "deb.sh: FAIL: reinstall" >&2; exit 1; }
  if [ "$(extension_files)" != "$found_files" ]; then
    echo "deb.sh: FAIL: after the reinstall the extension's files differ from those found" >&2
    diff <(echo "$found_files") <(extension_files) >&2
    exit 1
  fi
  exit "$rc"
}
trap restore EXIT

if dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q installed; then
  echo "deb.sh: $package is installed already: removing it first"
  as_root apt-get purge -y -q "$package"
fi
# What `cargo pgrx install` and tests/install.sh put there.
as_root rm -f "$pkglibdir"/message_store*.so "$extension_dir"/message_store.control \
  "$extension_dir"/message_store--*.sql
before="$(extension_files)"
if echo "$before" | grep -q message_store; then fail "extension files left: $before"; fi
new_paths="$(dpkg-deb -c "$deb" | awk '{ sub(/^\./, "", $NF); sub(/\/$/, "", $NF); print $NF }' |
  while read -r path; do [ -z "$path" ] || [ -e "$path" ] || echo "$path"; done)"

as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb"
expect "installed package" "install ok installed $deb_version" \
  "$(dpkg-query -W -f '${Status} ${Version}' "$package")"
installed="$(dpkg -L "$package")"
listed_files="$(while read -r path; do [ -d "$path" ] || echo "$path"; done <<<"$installed" | sort)"
expect "dpkg -L's files" "$expected_files" "$listed_files"
# Each file as packaged (md5sums), and nothing else new in the directories.
as_root dpkg --verify "$package" || fail "dpkg --verify"
expect "files added to the extension's directories" \
  "$(grep -v '^/usr/share/doc/' <<<"$expected_files")" "$(comm -13 <(echo "$before") <(extension_files))"
cmp "/usr/share/doc/$package/copyright" LICENSE || fail "copyright is not LICENSE"
# Depends names the glibc the library needs: its newest GLIBC_ symbol version.
glibc="$(objdump -T "$pkglibdir/message_store.so" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -u -V | tail -1)"
expect "Depends' libc6" "libc6 (>= $glibc)" "$(grep -o 'libc6 ([^)]*)' <<<"$depends")"
expect "available versions" "$all_versions" \
  "$(sql postgres "SELECT version FROM pg_available_extension_versions WHERE name = 'message_store'" | sort -V | paste -sd ' ')"

# A new database: CREATE EXTENSION and a short session.
for db in "${databases[@]}"; do
  sql postgres "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  sql postgres "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8'"
done
db=ms_deb_current
sql "$db" "CREATE EXTENSION message_store"
expect "extversion" "$version" "$(sql "$db" "SELECT extversion FROM pg_extension WHERE extname = 'message_store'")"
expect "first write" 0 "$(sql "$db" "SELECT message_store.write_message(gen_random_uuid()::text, 'account-123', 'Opened', '{\"owner\": \"ada\"}')")"
expect "second write" 1 "$(sql "$db" "SELECT message_store.write_message(gen_random_uuid()::text, 'account-123', 'Deposited', '{\"amount\": 10}', NULL, 0)")"
expect "stream read" $'0|Opened|{"owner": "ada"}\n1|Deposited|{"amount": 10}' \
  "$(sql "$db" "SELECT position, type, data FROM message_store.get_stream_messages('account-123')")"
expect "category read" "account-123|1" \
  "$(sql "$db" "SELECT stream_name, position FROM message_store.get_category_messages('account', 2)")"
expect "stream version" 1 "$(sql "$db" "SELECT message_store.stream_version('account-123')")"
expect "expected-version conflict" \
  "ERROR:  Wrong expected version: 0 (Stream: account-123, Stream Version: 1)" \
  "$(sql "$db" "SELECT message_store.write_message(gen_random_uuid()::text, 'account-123', 'Closed', '{}', NULL, 0)" 2>&1 | head -1)"

# The oldest release, written to, then updated with the packaged scripts.
db=ms_deb_oldest
sql "$db" "CREATE EXTENSION message_store VERSION '$oldest'"
expect "extversion at the oldest release" "$oldest" \
  "$(sql "$db" "SELECT extversion FROM pg_extension WHERE extname = 'message_store'")"
expect "write at $oldest" 0 "$(sql "$db" "SELECT message_store.write_message(gen_random_uuid()::text, 'account-1', 'Opened', '{}')")"
sql "$db" "ALTER EXTENSION message_store UPDATE"
expect "extversion after ALTER EXTENSION UPDATE" "$version" \
  "$(sql "$db" "SELECT extversion FROM pg_extension WHERE extname = 'message_store'")"
expect "write after the update" 1 "$(sql "$db" "SELECT message_store.write_message(gen_random_uuid()::text, 'account-1', 'Noted', '{}', NULL, 0)")"
expect "read after the update" $'0|Opened\n1|Noted' \
  "$(sql "$db" "SELECT position, type FROM message_store.get_stream_messages('account-1')")"

# The conformance corpus on fresh databases, and on databases of every
# release updated to this one, against the packaged files.
cargo test --release -p message_store_pg_tests --test corpus

# Removing the package removes every file it installed, and no more.
for db in "${databases[@]}"; do sql postgres "DROP DATABASE $db WITH (FORCE)"; done
as_root apt-get purge -y -q "$package"
if dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q installed; then fail "$package still installed"; fi
left="$(while read -r path; do [ ! -e "$path" ] || echo "$path"; done <<<"$new_paths")"
[ -z "$left" ] || fail "left after removal: $left"
expect "the extension's directories after removal" "$before" "$(extension_files)"
echo "deb.sh: $package $deb_version: installed, used, updated from $oldest, removed"
