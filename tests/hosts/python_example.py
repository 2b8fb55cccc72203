"""The message store from Python's sqlite3 (the README quotes this file).
Run: python3 python_example.py ./target/release/libmessage_store_sqlite store.db
"""
import json
import sqlite3
import sys
import time

library, path = sys.argv[1], sys.argv[2]


def connect(path, isolation_level=None):
    # isolation_level=None: the sqlite3 module opens no transaction of its
    # own, each statement commits unless BEGIN ... COMMIT says otherwise.
    # timeout: how long to wait for another connection's write lock.
    conn = sqlite3.connect(path, isolation_level=isolation_level, timeout=5)
    conn.enable_load_extension(True)
    conn.load_extension(library)
    conn.enable_load_extension(False)
    # WAL: readers go on while one connection writes.
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def write(conn, stream_name, message_type, data, expected_version=None):
    """Appends a message and returns its position. expected_version -1: the
    stream must be empty; None: no check; otherwise the position of the
    stream's last message."""
    return conn.execute(
        "SELECT write_message(gen_random_uuid(), ?, ?, ?, NULL, ?)",
        (stream_name, message_type, data, expected_version),
    ).fetchone()[0]


def deposit(conn, stream_name, amount):
    """Reads the stream's version, then writes after it. BEGIN IMMEDIATE takes
    the write lock before the read, so no other process writes in between."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("SELECT stream_version(?)", (stream_name,)).fetchone()[0]
        expected = -1 if version is None else version  # NULL: no messages yet
        data = json.dumps({"amount": amount})
        position = write(conn, stream_name, "Deposited", data, expected)
        conn.execute("COMMIT")
        return position
    except BaseException:
        conn.execute("ROLLBACK")
        raise


conn = connect(path)
print(write(conn, "account-1", "Opened", '{"owner": "ada"}', -1))  # 0
print(write(conn, "account-1", "Noted", "{}"))  # 1
try:
    write(conn, "account-1", "Opened", "{}", -1)
except sqlite3.Error as error:
    print(error)  # Wrong expected version: -1 (Stream: account-1, Stream Version: 1)
print(deposit(conn, "account-1", 10))  # 2

# Python's default transaction handling opens a transaction only before
# INSERT, UPDATE, DELETE and REPLACE: SELECT write_message(...) commits at
# once, and rollback() does not take it back.
legacy = connect(path, isolation_level="")
write(legacy, "account-2", "Opened", "{}")
legacy.rollback()
print(legacy.execute("SELECT stream_version('account-2')").fetchone()[0])  # 0

# A deferred BEGIN reads from a snapshot; when another connection (another
# process, say) writes first, its own write fails at once, whatever the
# timeout. Read-then-write needs BEGIN IMMEDIATE, as in deposit().
other = connect(path)
conn.execute("BEGIN")
version = conn.execute("SELECT stream_version('account-1')").fetchone()[0]
deposit(other, "account-1", 5)
started = time.monotonic()
try:
    write(conn, "account-1", "Deposited", '{"amount": 1}', version)
except sqlite3.Error as error:
    print(f"{error} after {time.monotonic() - started:.0f} s")  # database is locked after 0 s
conn.execute("ROLLBACK")

# Reader positions are inclusive: a consumer asks for its last position + 1.
position = 0
while batch := conn.execute(
    "SELECT position, type, data FROM get_stream_messages('account-1', ?, 2)", (position,)
).fetchall():
    for message in batch:
        print(*message)
    position = batch[-1][0] + 1
