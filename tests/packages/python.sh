#!/usr/bin/env bash
# The Python wheel end to end, as a Python developer meets it: builds the
# wheel (sqlite_ext/python/build.sh), installs it with apsw from PyPI into a
# fresh virtual environment of Debian's python3, and in real sessions writes
# messages with write_message and write_messages to a database file and reads
# them back on a new connection with the readers, once through the standard
# library's sqlite3 (Debian's SQLite 3.40, the oldest supported) and once
# through apsw (its bundled newer SQLite), each reading the other's file too.
# Also checks the wheel's version and license, that its platform tag is the
# one the library's glibc symbol versions allow (and auditwheel agrees), that
# extension loading is off again after load(), and the refusals of load():
# a Python whose sqlite3 cannot load extensions (pyenv's), an object that is
# no connection, and a second SQLite library in one process (by load() and
# by the library itself, loaded past load()). The virtual
# environments are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"

source tests/lib.sh
install_packages python3 python3-venv python3-pip binutils

# The workspace's version, read from the root Cargo.toml's [workspace.package].
version="$(awk '/^\[/ { section = $0 } section == "[workspace.package]" && $1 == "version" { gsub(/"/, "", $3); print $3 }' Cargo.toml)"
[ -n "$version" ] || { echo "python package: no version in Cargo.toml's [workspace.package]" >&2; exit 1; }

wheel="$(PYTHON=/usr/bin/python3 bash sqlite_ext/python/build.sh | tail -n 1)"
# The newest glibc symbol version the library needs names the manylinux tag.
glibc="$(objdump -T target/release/libmessage_store_sqlite.so | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -n 1)"
platform="manylinux_2_${glibc#GLIBC_2.}_x86_64"
[ "$wheel" = "$root/target/dist/message_store_sqlite-$version-py3-none-$platform.whl" ] \
  || { echo "python package: built $wheel, expected message_store_sqlite-$version-py3-none-$platform.whl" >&2; exit 1; }
echo "python package: the library needs glibc ${glibc#GLIBC_}: $(basename "$wheel")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check "$wheel" apsw auditwheel

"$work/venv/bin/auditwheel" show "$wheel" >"$work/auditwheel.txt"
tr -s ' \n' ' ' <"$work/auditwheel.txt" | grep -qF "is consistent with the following platform tag: \"$platform\"" \
  || { echo "python package: auditwheel does not agree with $platform:" >&2; cat "$work/auditwheel.txt" >&2; exit 1; }

cat >"$work/session.py" <<'PY'
"""One host's session: python session.py <sqlite3|apsw> <file to write> [<file the other host wrote>]."""
import os
import re
import sys
from importlib.metadata import distribution

import message_store_sqlite

host, path = sys.argv[1], sys.argv[2]
other = sys.argv[3] if len(sys.argv) > 3 else None

if host == "sqlite3":
    import sqlite3

    def connect(file):
        return sqlite3.connect(file, isolation_level=None, timeout=5)

    sqlite_version = tuple(map(int, sqlite3.sqlite_version.split(".")))
    SQLError = sqlite3.OperationalError
    # Debian 12's SQLite, the oldest the extension supports.
    assert sqlite_version[:2] == (3, 40), sqlite_version
else:
    import apsw

    def connect(file):
        conn = apsw.Connection(file)
        conn.set_busy_timeout(5000)
        return conn

    sqlite_version = tuple(map(int, apsw.sqlite_lib_version().split(".")))
    SQLError = apsw.SQLError
    assert sqlite_version > (3, 40, 1), sqlite_version
print(f"python package: {host} with SQLite {'.'.join(map(str, sqlite_version))}")


def rows(conn, sql, *args):
    return [tuple(row) for row in conn.execute(sql, args)]


def one(conn, sql, *args):
    [(value,)] = rows(conn, sql, *args)
    return value


def refused(conn, text, sql, *args):
    try:
        rows(conn, sql, *args)
    except SQLError as error:
        assert str(error) == text, (str(error), text)
    else:
        raise AssertionError(f"{sql} was not refused")


def id(n):
    return f"6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a0{n}"


conn = connect(path)
message_store_sqlite.load(conn)
# Loading is off again: SQL cannot load a library.
refused(conn, "not authorized", "SELECT load_extension(?)", message_store_sqlite.loadable_path())
assert one(conn, "PRAGMA journal_mode = WAL") == "wal"
assert one(conn, "SELECT message_store_version()") == "1.3.0"
assert one(conn, "SELECT write_message(?, ?, ?, ?)", id(1), "account-123", "Opened", '{"owner":"ada"}') == 0
assert one(conn, "SELECT write_message(?, ?, ?, ?, ?, ?)", id(2), "account-123", "Deposited",
           '{"amount":10}', '{"correlationStreamName":"transfer-7"}', 0) == 1
messages = '[{"id": "%s", "type": "Withdrawn", "data": {"amount": 5}}, {"id": "%s", "type": "Deposited", "data": {"amount": 7}, "metadata": null}]' % (id(3), id(4))
assert one(conn, "SELECT write_messages(?, ?, ?)", "account-123", messages, 1) == 3
assert one(conn, "SELECT write_messages(?, ?)", "account-456", '[{"id": "%s", "type": "Opened", "data": {"owner": "bob"}}]' % id(5)) == 0
refused(conn, "Wrong expected version: 0 (Stream: account-123, Stream Version: 3)",
        "SELECT write_message(?, ?, ?, ?, ?, ?)", id(6), "account-123", "Deposited", "{}", None, 0)
# A stale expected version writes none of the call's messages.
refused(conn, "Wrong expected version: 2 (Stream: account-123, Stream Version: 3)",
        "SELECT write_messages(?, ?, ?)", "account-123", '[{"id": "%s", "type": "Closed", "data": {}}]' % id(7), 2)
conn.close()


def check_store(conn):
    stream = rows(conn, "SELECT id, stream_name, type, position, global_position, data, metadata, time FROM get_stream_messages(?)", "account-123")
    for row in stream:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?", row[7]), row[7]
    assert [row[:7] for row in stream] == [
        (id(1), "account-123", "Opened", 0, 1, '{"owner": "ada"}', None),
        (id(2), "account-123", "Deposited", 1, 2, '{"amount": 10}', '{"correlationStreamName": "transfer-7"}'),
        (id(3), "account-123", "Withdrawn", 2, 3, '{"amount": 5}', None),
        (id(4), "account-123", "Deposited", 3, 4, '{"amount": 7}', None),
    ], stream
    assert rows(conn, "SELECT position FROM get_stream_messages(?, ?, ?)", "account-123", 2, 1) == [(2,)]
    assert rows(conn, "SELECT stream_name, position, global_position FROM get_category_messages(?, ?, ?)", "account", 1, 100) == [
        ("account-123", 0, 1), ("account-123", 1, 2), ("account-123", 2, 3), ("account-123", 3, 4), ("account-456", 0, 5),
    ]
    assert rows(conn, "SELECT global_position FROM get_category_messages(?, ?, ?)", "account", 4, 100) == [(4,), (5,)]
    # A consumer group of two splits the category by stream, together all of it.
    members = [rows(conn, "SELECT stream_name, global_position FROM get_category_messages(?, ?, ?, ?, ?, ?)", "account", 1, 100, None, m, 2) for m in (0, 1)]
    assert sorted(g for member in members for (_, g) in member) == [1, 2, 3, 4, 5], members
    for m, member in enumerate(members):
        for name, _ in member:
            assert one(conn, "SELECT is_consumer_group_member(?, ?, 2)", name, m) == 1, (name, m)
    assert rows(conn, "SELECT type, position FROM get_last_stream_message(?)", "account-456") == [("Opened", 0)]
    assert one(conn, "SELECT stream_version(?)", "account-123") == 3
    assert one(conn, "SELECT stream_version(?)", "account-789") is None


# A new connection reads what the first wrote, and the other host's file.
for file in [path] + ([other] if other else []):
    reader = connect(file)
    message_store_sqlite.load(reader)
    check_store(reader)
    reader.close()

# The installed distribution: the workspace's version and the project's license.
dist = distribution("message-store-sqlite")
assert dist.version == message_store_sqlite.__version__ == os.environ["WORKSPACE_VERSION"], dist.version
license = next(f for f in dist.files if f.name == "LICENSE")
assert license.read_text() == open(os.environ["PROJECT_LICENSE"]).read()
assert dist.metadata["License-Expression"] == "MIT", dist.metadata["License-Expression"]
library = message_store_sqlite.loadable_path()
assert library == os.path.join(os.path.dirname(message_store_sqlite.__file__), "libmessage_store_sqlite.so"), library
assert os.path.isfile(library) and library.startswith(sys.prefix), library
print(f"python package: {host} session ok")
PY

cat >"$work/refusals.py" <<'PY'
"""load()'s refusals in the venv's Python: no connection, sqlite3 without loading, two SQLite libraries."""
import sqlite3

import apsw
import message_store_sqlite


def refusal(kind, text, conn):
    try:
        message_store_sqlite.load(conn)
    except kind as error:
        assert str(error) == text, str(error)
    else:
        raise AssertionError(f"load({conn!r}) was not refused")


class NotAConnection:
    pass


refusal(TypeError, "message_store_sqlite.load(conn) takes a sqlite3.Connection or an apsw.Connection, "
        "not __main__.NotAConnection (no enable_load_extension() and load_extension())", NotAConnection())


class NoLoading(sqlite3.Connection):
    # What sqlite3.Connection is in a Python built without extension loading.
    enable_load_extension = None


refusal(message_store_sqlite.ExtensionLoadingUnavailable, open("expected_no_loading.txt").read().strip(),
        sqlite3.connect(":memory:", factory=NoLoading))

# The library keeps the routines of the first SQLite it is loaded into: a
# second SQLite library in the process is refused, and the first goes on.
conn = sqlite3.connect(":memory:", isolation_level=None)
message_store_sqlite.load(conn)
refusal(RuntimeError, "message_store_sqlite.load: this process has loaded the extension into sqlite3's SQLite; "
        "it cannot also load it into apsw's, which is another SQLite library: use one of them per process",
        apsw.Connection(":memory:"))
# Past load(), straight into apsw's SQLite: the library itself refuses
# (before it did, the process crashed at the latest when it exited).
direct = apsw.Connection(":memory:")
direct.enable_load_extension(True)
try:
    direct.load_extension(message_store_sqlite.loadable_path())
except apsw.Error as error:
    assert str(error).endswith(
        "message_store: this process has loaded the extension into another SQLite library already; "
        "it works with one SQLite library per process (two copies of SQLite in one process, such as "
        "Python's sqlite3 and apsw, each need a process of their own)"), str(error)
else:
    raise AssertionError("apsw's SQLite loaded the extension beside sqlite3's")
assert list(direct.execute("SELECT count(*) FROM pragma_function_list WHERE name = 'write_message'")) == [(0,)]
direct.close()
other = sqlite3.connect(":memory:", isolation_level=None)
message_store_sqlite.load(other)
assert other.execute("SELECT write_message(gen_random_uuid(), 'a-1', 'T', '{}')").fetchone() == (0,)
assert conn.execute("SELECT stream_version('a-1')").fetchone() == (None,)
conn.close()
other.close()
print("python package: refusals ok")
PY

cat >"$work/expected_no_loading.txt" <<'TXT'
message_store_sqlite.load: this Python's sqlite3 module cannot load SQLite extensions: it was built without --enable-loadable-sqlite-extensions, so sqlite3.Connection has no enable_load_extension(). Use apsw instead (pip install apsw; message_store_sqlite.load(apsw.Connection(path))), or a Python built with --enable-loadable-sqlite-extensions (such as Debian's /usr/bin/python3).
TXT

cd "$work"
export WORKSPACE_VERSION="$version" PROJECT_LICENSE="$root/LICENSE"
# Each host in its own process (one SQLite library per process), each reading
# the file the other wrote as well.
"$py" session.py sqlite3 "$work/stdlib.db"
"$py" session.py apsw "$work/apsw.db" "$work/stdlib.db"
rm -f "$work"/stdlib.db*
"$py" session.py sqlite3 "$work/stdlib.db" "$work/apsw.db"
"$py" refusals.py

# A Python whose sqlite3 module cannot load extensions, such as pyenv's
# builds here: the wheel installs, and load() says why and what to do.
noload=""
for candidate in /root/.pyenv/versions/3.*/bin/python3; do
  [ -x "$candidate" ] || continue
  if "$candidate" -c 'import sqlite3, sys; sys.exit(hasattr(sqlite3.Connection, "enable_load_extension"))' 2>/dev/null; then
    noload="$candidate"
    break
  fi
done
if [ -n "$noload" ]; then
  "$noload" -m venv "$work/noload"
  "$work/noload/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
  "$work/noload/bin/python" - <<'PY'
import sqlite3, sys
import message_store_sqlite
try:
    message_store_sqlite.load(sqlite3.connect(":memory:"))
except message_store_sqlite.ExtensionLoadingUnavailable as error:
    assert str(error) == open("expected_no_loading.txt").read().strip(), str(error)
else:
    raise AssertionError("load() did not refuse")
print(f"python package: refused on Python {sys.version.split()[0]} without extension loading")
PY
else
  echo "python package: no Python without extension loading found (pyenv's); its refusal checked on a stand-in class only"
fi
echo "python package: message_store_sqlite-$version ok"
