"""One of several processes writing to one SQLite database file in WAL mode
until it is killed (tests/sqlite_host/tests/crash.rs kills it with SIGKILL).

Usage: python3 crash_writer.py LIB DB ROUND WRITER HOLD

Writes in a loop, to streams of four categories: single messages in
autocommit, and transactions of 2 to 5 messages (BEGIN IMMEDIATE ... COMMIT).
Every line it prints is flushed at once:

  try TXN ID STREAM TYPE METADATA DATA
                           before a write is sent (TXN is ROUND.WRITER.N in
                           a transaction, - in autocommit; METADATA and
                           DATA are JSON without spaces)
  ack ID POSITION          once the write returned, or its COMMIT did
  held TXN                 see HOLD

When the file HOLD exists, the next transaction with a write still to do
stops after a write, prints `held`, and waits (holding the database's
write lock) to be killed.
"""
import json
import os
import random
import sqlite3
import sys
import time
import uuid

lib, path, round_number, writer, hold = sys.argv[1:6]

conn = sqlite3.connect(path, timeout=60, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(lib)
conn.enable_load_extension(False)
# The test put the file in WAL mode before starting any writer.
mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
if mode != "wal":
    sys.exit("writer %s: the database is in journal mode %s, not wal" % (writer, mode))
# A small page cache: a transaction's pages go to the WAL before its COMMIT,
# so a kill also finds uncommitted frames there.
conn.execute("PRAGMA cache_size = 16")

WRITE = "SELECT write_message(?, ?, ?, ?, ?)"
rng = random.Random()


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def message(i):
    """Data of every size a row takes: small, about a page, several pages."""
    size = rng.choice([0, 10, 100, 100, 100, 3000, 3000, 20000])
    text = "%x" % rng.getrandbits(4 * size) if size else ""
    data = json.dumps({"writer": int(writer), "i": i, "text": text}, separators=(",", ":"))
    metadata = None
    if rng.random() < 0.3:
        metadata = json.dumps(
            {"correlationStreamName": "other-%d" % rng.randrange(5), "i": i}, separators=(",", ":")
        )
    stream = "crash%s-%d" % (rng.choice("ABCD"), rng.randrange(4))
    return str(uuid.uuid4()), stream, data, metadata


def send(txn, i, message_type):
    id, stream, data, metadata = message(i)
    say("try %s %s %s %s %s %s" % (txn, id, stream, message_type, metadata or "null", data))
    position = conn.execute(WRITE, (id, stream, message_type, data, metadata)).fetchone()[0]
    return id, position


i = 0
transactions = 0
while True:
    if rng.random() < 0.5:
        id, position = send("-", i, "Autocommitted")
        i += 1
        say("ack %s %d" % (id, position))
        continue
    transactions += 1
    txn = "%s.%s.%d" % (round_number, writer, transactions)
    count = rng.randrange(2, 6)
    conn.execute("BEGIN IMMEDIATE")
    written = []
    for k in range(count):
        written.append(send(txn, i, "Transacted"))
        i += 1
        if k + 1 < count and os.path.exists(hold):
            say("held %s" % txn)
            time.sleep(600)
    conn.execute("COMMIT")
    for id, position in written:
        say("ack %s %d" % (id, position))
