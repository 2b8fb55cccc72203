// Loads the SQLite extension into better-sqlite3 and makes a short session.
// Usage: node host.js path/to/libmessage_store_sqlite
// better-sqlite3 binds JavaScript numbers as reals; the extension takes
// whole reals for its integer arguments.
const Database = require("better-sqlite3");

const db = new Database(":memory:");
db.loadExtension(process.argv[2]);

const write = db.prepare("SELECT write_message(?, ?, ?, ?, ?, ?) AS position");
console.log(write.get("8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5d", "account-123", "Opened", '{"owner":"ann","limit":100}', null, null).position);
console.log(write.get("8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5e", "account-123", "Deposited", '{"amount":10}', null, 0).position);
for (const row of db.prepare("SELECT stream_name, type, position, global_position, data FROM get_stream_messages(?, ?, ?)").all("account-123", 0, 10)) {
  console.log([row.stream_name, row.type, row.position, row.global_position, row.data].join("|"));
}
console.log(db.prepare("SELECT count(*) AS n FROM get_category_messages(?, ?, ?, ?, ?, ?)").get("account", 1, 1000, null, 1, 3).n);
try {
  write.get("8a6b6d4c-43ae-4a4f-9b7c-3c1d2a3b4c5f", "account-123", "Deposited", "{}", null, 0);
} catch (error) {
  console.log(error.message);
}
