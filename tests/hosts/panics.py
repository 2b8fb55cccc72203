"""Every kind of callback SQLite makes into the extension, made to panic in
turn, in one Python process: each gives its error, or, for a destructor,
the process simply lives on; then a normal write and read.

Needs the library built with the test-only `panic_probe` feature, which
panics in the callback `MESSAGE_STORE_PANIC_IN` names (`<what>.<callback>`),
read at every call.

Usage: python3 panics.py path/to/panic-probe/libmessage_store_sqlite store.db
Prints one line per case, for tests/sqlite_host/tests/panics.rs to compare.
"""
import os
import sqlite3
import sys

library, path = sys.argv[1], sys.argv[2]
PROBE = "MESSAGE_STORE_PANIC_IN"
READ = "SELECT position FROM get_stream_messages('account-1')"
SETTINGS = "SELECT name, value FROM message_store_settings"


def connect():
    conn = sqlite3.connect(path, isolation_level=None)
    conn.enable_load_extension(True)
    conn.load_extension(library)
    conn.enable_load_extension(False)
    return conn


def panic_in(name):
    # os.environ sets the process's environment, which the library reads.
    os.environ[PROBE] = name


def calm():
    os.environ.pop(PROBE, None)


def fails(probe, sql):
    """A fresh connection (so tables connect anew), the probe set for one
    statement: prints the error the host got."""
    conn = connect()
    panic_in(probe)
    try:
        rows = conn.execute(sql).fetchall()
        print(f"{probe}: no error, {rows}")
    except sqlite3.Error as error:
        print(f"{probe}: {error}")
    finally:
        calm()
    conn.close()


def lives(probe, sql):
    """The probe set for a statement and the connection's close: the
    destructors run, the host goes on."""
    conn = connect()
    panic_in(probe)
    try:
        rows = conn.execute(sql).fetchall()
        conn.close()
        print(f"{probe}: lived, {len(rows)} rows")
    finally:
        calm()


conn = connect()
conn.execute("SELECT write_message(gen_random_uuid(), 'account-1', 'Opened', '{}')")
conn.execute("SELECT write_message(gen_random_uuid(), 'account-1', 'Noted', '{}')")
conn.close()

for callback in ["xConnect", "xBestIndex", "xOpen", "xFilter", "xEof", "xNext", "xColumn"]:
    fails(f"get_stream_messages.{callback}", READ)
fails("get_stream_messages.xRowid", "SELECT rowid FROM get_stream_messages('account-1')")
fails("get_category_messages.xFilter", "SELECT position FROM get_category_messages('account')")
fails("get_last_stream_message.xColumn", "SELECT type FROM get_last_stream_message('account-1')")
fails("get_all_messages.xFilter", "SELECT global_position FROM get_all_messages()")
for callback in ["xClose", "xDisconnect", "drop_aux"]:
    lives(f"get_stream_messages.{callback}", READ)

for callback in ["xConnect", "xBestIndex", "xOpen", "xFilter", "xEof", "xNext", "xColumn"]:
    fails(f"message_store_settings.{callback}", SETTINGS)
fails("message_store_settings.xRowid", "SELECT rowid FROM message_store_settings")
for callback in ["xClose", "xDisconnect", "drop_aux"]:
    lives(f"message_store_settings.{callback}", SETTINGS)

fails("hash_64.xFunc", "SELECT hash_64('a')")
fails("write_message.xFunc", "SELECT write_message(gen_random_uuid(), 'account-1', 'Noted', '{}')")
fails("set_config.xFunc", "SELECT set_config('message_store.sql_condition', 'on', false)")
lives("write_message.xDestroy", "SELECT stream_version('account-1')")

# The batch writers, and the table their insert reads its rows from (two
# messages: a single one goes in through write_message's statement). A
# failed call stores nothing; the destructors' panics are dropped and their
# calls' rows stay.
MESSAGE = "json_object('id', gen_random_uuid(), 'type', 'Batched', 'data', json('{}'))"
BATCH = f"SELECT write_messages('account-2', json_array({MESSAGE}, {MESSAGE}))"
ENTRIES = (
    "SELECT write_batch(json_array(json_object('stream_name', 'account-2', "
    f"'messages', json_array({MESSAGE}, {MESSAGE}))))"
)
fails("write_messages.xFunc", BATCH)
fails("write_batch.xFunc", ENTRIES)
for callback in ["xConnect", "xBestIndex", "xOpen", "xFilter", "xEof", "xNext", "xColumn"]:
    fails(f"message_store_batch_rows.{callback}", BATCH)
for callback in ["xClose", "xDisconnect", "drop_aux"]:
    lives(f"message_store_batch_rows.{callback}", BATCH)
conn = connect()
print(conn.execute("SELECT count(*) FROM get_stream_messages('account-2')").fetchone()[0])
conn.close()

# The export, a reader of its own, and the import, whose rows go in through
# the batch writers' table: a failed import stores nothing.
EXPORT = "SELECT line FROM export_messages()"
LINE = (
    '{"id":"00000000-0000-4000-8000-000000000001","stream_name":"import-1","type":"Imported",'
    '"position":0,"global_position":1000000,"data":{},"metadata":null,'
    '"time":"2026-11-26T18:02:26.513973"}'
)
IMPORT = f"SELECT import_messages('{LINE}')"
for callback in ["xFilter", "xNext", "xColumn"]:
    fails(f"export_messages.{callback}", EXPORT)
fails("import_messages.xFunc", IMPORT)
fails("message_store_batch_rows.xColumn", IMPORT)
conn = connect()
print(conn.execute("SELECT count(*) FROM get_stream_messages('import-1')").fetchone()[0])
conn.close()

# Retention and erasure: a failed call removes, redacts and stores nothing.
RETENTION = [
    ("remove_messages", "SELECT remove_messages('account', NULL, 1000000000)"),
    ("redact_stream", "SELECT redact_stream('account-1')"),
    ("set_retention_policy", "SELECT set_retention_policy('account', 'keep_last', 1)"),
    ("clear_retention_policy", "SELECT clear_retention_policy('account')"),
    ("apply_retention_policies", "SELECT apply_retention_policies()"),
]
for function, sql in RETENTION:
    fails(f"{function}.xFunc", sql)
conn = connect()
print(conn.execute(
    "SELECT count(*), count(data), (SELECT count(*) FROM retention_policies) FROM messages"
).fetchone())
conn.close()

# The listings, readers of their own over the messages stored above.
for listing in ["get_streams", "get_categories"]:
    for callback in ["xFilter", "xNext", "xColumn"]:
        fails(f"{listing}.{callback}", f"SELECT * FROM {listing}()")

# The entry points: SQLite tries the generic one first when the host names
# none; the file's own by name, through SQL.
panic_in("message_store.register")
try:
    connect()
    print("message_store.register: loaded")
except sqlite3.Error as error:
    print(f"message_store.register: {error}")
bare = sqlite3.connect(":memory:")
bare.enable_load_extension(True)
try:
    bare.execute("SELECT load_extension(?, 'sqlite3_messagestoresqlite_init')", (library,))
    print("message_store.register: loaded")
except sqlite3.Error as error:
    print(f"message_store.register: {error}")
calm()
bare.close()

# The process and the library still work.
conn = connect()
print(conn.execute("SELECT write_message(gen_random_uuid(), 'account-1', 'Closed', '{}')").fetchone()[0])
print(conn.execute("SELECT count(*), max(position) FROM get_stream_messages('account-1')").fetchone())
conn.close()
