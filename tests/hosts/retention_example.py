"""Retention on SQLite from Python's sqlite3: policies, removal in short
transactions, and giving the freed pages back to the file system.
Run: python3 retention_example.py ./target/release/libmessage_store_sqlite store.db
"""
import sqlite3
import sys

library, path = sys.argv[1], sys.argv[2]

# isolation_level=None: each call below is its own transaction unless
# BEGIN ... COMMIT says otherwise.
conn = sqlite3.connect(path, isolation_level=None, timeout=5)
conn.enable_load_extension(True)
conn.load_extension(library)
conn.enable_load_extension(False)
conn.execute("PRAGMA journal_mode=WAL")


def one(sql, *args):
    return conn.execute(sql, args).fetchone()[0]


conn.execute("BEGIN IMMEDIATE")
for i in range(1200):
    stream = f"log-{i % 3}"
    one("SELECT write_message(gen_random_uuid(), ?, 'Logged', json_object('i', ?))", stream, i)
for i in range(100):
    one("SELECT write_message(gen_random_uuid(), 'audit-1', 'Checked', '{}')")
conn.execute("COMMIT")

# The last 10 messages of each log stream stay; commands stay a week.
one("SELECT set_retention_policy('log', 'keep_last', 10)")
one("SELECT set_retention_policy('command', 'keep_seconds', 7 * 24 * 3600)")


def apply_policies(batch=500):
    """Everything the policies say is due, at most `batch` messages per
    policy per call; each call is a short transaction of its own, so other
    writers get the lock in between."""
    total = 0
    while True:
        removed = one("SELECT apply_retention_policies(?)", batch)
        if removed == 0:
            return total
        total += removed


def remove_before(stream_or_category, global_position, batch=500):
    """A stream's or a category's messages below a global position, each
    stream's last kept, in calls of at most `batch`."""
    total = 0
    while True:
        removed = one(
            "SELECT remove_messages(?, NULL, ?, ?)", stream_or_category, global_position, batch
        )
        total += removed
        if removed < batch:
            return total


print(apply_policies())  # 1170: 390 of each log stream's 400
print(one("SELECT stream_version('log-0')"))  # 399: versions stay
print(remove_before("audit-1", one("SELECT max(global_position) FROM messages"), batch=40))  # 99

# Removed rows leave free pages, which later writes reuse; the file keeps
# its size.
print(one("PRAGMA freelist_count") > 0)  # True
# To give pages back, switch the file to incremental vacuum once: that
# takes one VACUUM, which rewrites the whole file (no transaction open,
# free disk space of up to twice the file's size); in WAL mode a
# TRUNCATE checkpoint then shrinks the -wal file it filled.
conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
conn.execute("VACUUM")
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(one("PRAGMA auto_vacuum"), one("PRAGMA freelist_count"))  # 2 0
# From then on, after removals, incremental_vacuum frees the pages.
# executescript runs it to the end: conn.execute would free one page.
one("SELECT write_message(gen_random_uuid(), 'log-0', 'Logged', json_object('big', hex(zeroblob(100000))))")
for i in range(10):
    one("SELECT write_message(gen_random_uuid(), 'log-0', 'Logged', '{}')")
print(apply_policies())  # 11: the big one among them
print(one("PRAGMA freelist_count") > 0)  # True
conn.executescript("PRAGMA incremental_vacuum;")
print(one("PRAGMA freelist_count"))  # 0
conn.close()
