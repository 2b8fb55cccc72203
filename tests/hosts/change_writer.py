"""A writer in another process, for tests/sqlite_host/tests/wait_for_change.rs.

Usage: python3 change_writer.py LIB DB COUNT DIR

Writes COUNT messages to the stream `change-1`, one per transaction. After
each commit it waits until the waiting process has created DIR/seen-N (N
from 1), so each commit is seen on its own. Gives up after 60 s.
"""
import os
import sqlite3
import sys
import time
import uuid

lib, path, count, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

conn = sqlite3.connect(path, timeout=60, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(lib)
conn.enable_load_extension(False)

for n in range(1, count + 1):
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "SELECT write_message(?, 'change-1', 'Changed', ?)",
        (str(uuid.uuid4()), '{"n":%d}' % n),
    )
    conn.execute("COMMIT")
    seen = os.path.join(sync, "seen-%d" % n)
    deadline = time.monotonic() + 60
    while not os.path.exists(seen):
        if time.monotonic() > deadline:
            sys.exit("change_writer: gave up after 60 s waiting for %s" % seen)
        time.sleep(0.001)
