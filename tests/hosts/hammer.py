"""One of several processes writing to one SQLite database file in WAL mode.

Usage: python3 hammer.py LIB DB WRITER WRITERS COUNT ROUNDS DIR

Waits for the file DIR/go, so that all writers start together, then writes
COUNT messages to the shared stream `hammer-1` without an expected version.
Then ROUNDS races on `race-1`: in each, every writer reads the stream's
version, waits until all writers have read it (files in DIR), and writes
with that expected version; one write wins, the others must fail with the
wrong-version error. Prints how many of its writes were refused.
"""
import os
import sqlite3
import sys
import time
import uuid

lib, path, writer = sys.argv[1], sys.argv[2], sys.argv[3]
writers, count, rounds, sync = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]

conn = sqlite3.connect(path, timeout=60, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(lib)
conn.enable_load_extension(False)
# The test put the file in WAL mode before starting the writers.
mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
if mode != "wal":
    sys.exit("writer %s: the database is in journal mode %s, not wal" % (writer, mode))


def wait_for(names):
    # A writer that failed never writes its file: give up rather than hang.
    deadline = time.monotonic() + 60
    while not all(os.path.exists(os.path.join(sync, n)) for n in names):
        if time.monotonic() > deadline:
            missing = [n for n in names if not os.path.exists(os.path.join(sync, n))]
            sys.exit("writer %s: gave up after 60 s waiting for %s" % (writer, ", ".join(missing)))
        time.sleep(0.0005)


wait_for(["go"])
write = "SELECT write_message(?, ?, 'Hammered', ?, NULL, ?)"
for i in range(count):
    conn.execute(write, (str(uuid.uuid4()), "hammer-1", '{"writer":"%s","i":%d}' % (writer, i), None)).fetchone()

refused = 0
for r in range(rounds):
    version = conn.execute("SELECT stream_version('race-1')").fetchone()[0]
    expected = -1 if version is None else version
    open(os.path.join(sync, "read-%d-%s" % (r, writer)), "w").close()
    wait_for(["read-%d-%d" % (r, w) for w in range(writers)])
    try:
        conn.execute(write, (str(uuid.uuid4()), "race-1", "{}", expected)).fetchone()
    except sqlite3.Error as error:
        if str(error) != "Wrong expected version: %d (Stream: race-1, Stream Version: %d)" % (expected, expected + 1):
            raise
        refused += 1
    # Nobody reads the next round's version before every write of this one is done.
    open(os.path.join(sync, "wrote-%d-%s" % (r, writer)), "w").close()
    wait_for(["wrote-%d-%d" % (r, w) for w in range(writers)])
print(refused)
