"""Loads the SQLite extension into Python's sqlite3 and makes a short session.

Usage: python3 python_host.py path/to/libmessage_store_sqlite
Prints one line per result, for the test that runs it to compare.
"""
import sqlite3
import sys

conn = sqlite3.connect(":memory:")
conn.enable_load_extension(True)
conn.load_extension(sys.argv[1])
conn.enable_load_extension(False)

write = "SELECT write_message(?, ?, ?, ?, ?, ?)"
print(conn.execute(write, ("8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5d", "account-123", "Opened", '{"owner":"ann","limit":100}', None, None)).fetchone()[0])
print(conn.execute(write, ("8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5e", "account-123", "Deposited", '{"amount":10}', None, 0)).fetchone()[0])
for row in conn.execute("SELECT stream_name, type, position, global_position, data FROM get_stream_messages(?)", ("account-123",)):
    print("|".join(str(v) for v in row))
print(conn.execute("SELECT count(*) FROM get_category_messages('account', 1, 1000, NULL, 1, 3)").fetchone()[0])
try:
    conn.execute(write, ("8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5f", "account-123", "Deposited", "{}", None, 0))
except sqlite3.Error as error:
    print(error)
