"""One of several processes writing to one SQLite database file in WAL mode.

Usage: python3 hammer.py LIB DB WRITER COUNT GO
Waits until the file GO exists, so that all writers start together.
Writes COUNT messages to the shared stream `hammer-1` without an expected
version, and COUNT messages to `race-1` with the expected version it last
read, retrying on a conflict. Prints the number of conflicts it met.
"""
import os
import sqlite3
import sys
import time
import uuid

lib, path, writer, count, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
conn = sqlite3.connect(path, timeout=60, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(lib)
conn.enable_load_extension(False)
conn.execute("PRAGMA journal_mode=WAL")

while not os.path.exists(go):
    time.sleep(0.001)

write = "SELECT write_message(?, ?, 'Hammered', ?, NULL, ?)"
conflicts = 0
for i in range(count):
    conn.execute(write, (str(uuid.uuid4()), "hammer-1", '{"writer":"%s","i":%d}' % (writer, i), None)).fetchone()
    while True:
        version = conn.execute("SELECT stream_version('race-1')").fetchone()[0]
        expected = -1 if version is None else version
        try:
            conn.execute(write, (str(uuid.uuid4()), "race-1", "{}", expected)).fetchone()
            break
        except sqlite3.Error as error:
            if not str(error).startswith("Wrong expected version: "):
                raise
            conflicts += 1
print(conflicts)
