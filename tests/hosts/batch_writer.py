"""One of several processes writing batches to one SQLite database file in
WAL mode (tests/sqlite_host/tests/batch_wal.rs starts them and checks the
file afterwards).

Usage: python3 batch_writer.py LIB DB WRITER CALLS DIR [broken]

Waits for the file DIR/go, so that all writers start together, then makes
CALLS calls of write_messages and write_batch (1 to 50 messages each) into
shared streams of two categories: in autocommit, with an expected version
(read in the same BEGIN IMMEDIATE transaction, or read before in autocommit
and so perhaps stale), with the last message's id one it already had
acknowledged (refused: a stored id), and several calls in one BEGIN
IMMEDIATE ... COMMIT, a refused one among them. Prints one JSON object a
line, flushed at once:

  {"try": CALL, "function": F, "entries": [[STREAM, [MESSAGE, ...]], ...],
   "expected_version": V, "read_version": V, "reused": ID}
                          before a call is sent (MESSAGE is the object sent)
  {"ack": CALL, "positions": [P, ...]}
                          once the call returned in autocommit, or its
                          transaction's COMMIT did
  {"refused": CALL, "error": TEXT}
                          when the call failed (its transaction goes on)
  {"held": CALL}          broken mode only, see below

With `broken`, the writer is a deliberately wrong batch writer, for the
test's negative control: its first call writes 6 messages one write_message
at a time in autocommit, and after the third prints `held` and waits to be
killed.
"""
import json
import os
import random
import sqlite3
import sys
import time
import uuid

lib, path, writer, calls, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
broken = sys.argv[6:] == ["broken"]

conn = sqlite3.connect(path, timeout=60, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(lib)
conn.enable_load_extension(False)
# The test put the file in WAL mode before starting the writers.
mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
if mode != "wal":
    sys.exit("writer %d: the database is in journal mode %s, not wal" % (writer, mode))

rng = random.Random()
STREAMS = ["walBatch-%d" % i for i in range(4)] + ["walOther-%d" % i for i in range(2)]


def say(**line):
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def message(call, entry, i):
    m = {"id": str(uuid.uuid4()), "type": "Batched", "data": {"writer": writer, "call": call, "entry": entry, "i": i}}
    roll = rng.random()
    if roll < 0.3:
        m["metadata"] = {"correlationStreamName": "other-1"}
    elif roll < 0.5:
        m["metadata"] = None
    return m


def entries_of(call, sizes):
    return [[rng.choice(STREAMS), [message(call, e, i) for i in range(size)]] for e, size in enumerate(sizes)]


def split(total, count):
    sizes = [1] * count
    for _ in range(total - count):
        sizes[rng.randrange(count)] += 1
    return sizes


def wait_for_go():
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(sync, "go")):
        if time.monotonic() > deadline:
            sys.exit("writer %d: gave up after 60 s waiting for go" % writer)
        time.sleep(0.0005)


acknowledged = []


def send(name, function, entries, expected_version=None, read_version=None, reused=None):
    """Sends one call; returns its positions, or None when it was refused."""
    say(**{"try": name, "function": function, "entries": entries, "expected_version": expected_version,
           "read_version": read_version, "reused": reused})
    try:
        if function == "write_messages":
            stream, messages = entries[0]
            position = conn.execute(
                "SELECT write_messages(?, ?, ?)", (stream, json.dumps(messages), expected_version)
            ).fetchone()[0]
            return [position]
        batch = [{"stream_name": s, "expected_version": None, "messages": m} for s, m in entries]
        return json.loads(conn.execute("SELECT write_batch(?)", (json.dumps(batch),)).fetchone()[0])
    except sqlite3.Error as error:
        say(refused=name, error=str(error))
        return None


def ack(name, entries, positions):
    say(ack=name, positions=positions)
    acknowledged.extend(m["id"] for _, messages in entries for m in messages)


def version(stream):
    v = conn.execute("SELECT stream_version(?)", (stream,)).fetchone()[0]
    return -1 if v is None else v


def one_call(call):
    """write_messages or write_batch, and the entries of call number `call`."""
    total = rng.randrange(1, 51)
    function = rng.choice(["write_messages", "write_batch"])
    sizes = [total] if function == "write_messages" else split(total, min(total, rng.randrange(2, 5)))
    return function, entries_of(call, sizes)


def metadata_text(m):
    return None if m.get("metadata") is None else json.dumps(m["metadata"])


wait_for_go()

if broken:
    name = "%d.0" % writer
    entries = entries_of(0, [6])
    say(**{"try": name, "function": "write_messages", "entries": entries, "expected_version": None,
           "read_version": None, "reused": None})
    stream, messages = entries[0]
    for i, m in enumerate(messages):
        conn.execute(
            "SELECT write_message(?, ?, ?, ?, ?)",
            (m["id"], stream, m["type"], json.dumps(m["data"]), metadata_text(m)),
        ).fetchone()
        if i == 2:
            say(held=name)
            time.sleep(600)
    sys.exit("writer %d: not killed" % writer)

call = 0
while call < calls:
    # SQLite's busy handler sleeps: a writer that asked again at once would
    # take the lock back each time, and the writers would write in turn.
    time.sleep(rng.random() * 0.004)
    choice = rng.randrange(10)
    name = "%d.%d" % (writer, call)
    if choice < 4:
        # Autocommit, no expected version.
        function, entries = one_call(call)
        positions = send(name, function, entries)
        if positions is not None:
            ack(name, entries, positions)
        call += 1
    elif choice == 4:
        # Read-then-write in one transaction: the expected version holds.
        entries = entries_of(call, [rng.randrange(1, 51)])
        conn.execute("BEGIN IMMEDIATE")
        read = version(entries[0][0])
        positions = send(name, "write_messages", entries, read, read)
        conn.execute("COMMIT")
        if positions is not None:
            ack(name, entries, positions)
        call += 1
    elif choice == 5:
        # A version read before, in autocommit: another writer may have
        # written since (refused), and one behind may be right again.
        entries = entries_of(call, [rng.randrange(1, 51)])
        read = version(entries[0][0])
        expected = max(-1, read - rng.randrange(2))
        positions = send(name, "write_messages", entries, expected, read)
        if positions is not None:
            ack(name, entries, positions)
        call += 1
    elif choice == 6 and acknowledged:
        # The last message's id is one already stored: refused, and the
        # messages before it, already inserted by then, are taken back.
        function, entries = one_call(call)
        reused = rng.choice(acknowledged)
        entries[-1][1][-1]["id"] = reused
        positions = send(name, function, entries, reused=reused)
        if positions is not None:
            ack(name, entries, positions)
        call += 1
    elif choice == 7 and acknowledged and call + 3 <= calls:
        # Three calls in one transaction, the second refused for a stored
        # id: the first and third are stored at COMMIT, the second not at all.
        conn.execute("BEGIN IMMEDIATE")
        sent = []
        for k in range(3):
            name = "%d.%d" % (writer, call)
            function, entries = one_call(call)
            reused = None
            if k == 1:
                reused = rng.choice(acknowledged)
                entries[-1][1][-1]["id"] = reused
            positions = send(name, function, entries, reused=reused)
            sent.append((name, entries, positions))
            call += 1
        conn.execute("COMMIT")
        for name, entries, positions in sent:
            if positions is not None:
                ack(name, entries, positions)
    else:
        # write_batch in autocommit.
        total = rng.randrange(2, 51)
        entries = entries_of(call, split(total, min(total, rng.randrange(2, 5))))
        positions = send(name, "write_batch", entries)
        if positions is not None:
            ack(name, entries, positions)
        call += 1
