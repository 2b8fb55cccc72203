"use strict";
// The message store's SQLite extension, built for linux-x64 (glibc), and a
// loader for better-sqlite3. The library's file name keeps its `lib` prefix
// and stem: SQLite derives the entry point's name from them.
const fs = require("fs");
const path = require("path");

const LIBRARY = path.join(__dirname, "lib", "libmessage_store_sqlite.so");

function getLoadablePath() {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `message-store-sqlite holds a library for linux-x64 only, not ${process.platform}-${process.arch}: ` +
        "build it from source (cargo build --release -p message_store_sqlite) and load that file with db.loadExtension(path)",
    );
  }
  if (!fs.existsSync(LIBRARY)) {
    throw new Error(`message-store-sqlite: the library is missing from this install: ${LIBRARY}`);
  }
  return LIBRARY;
}

function load(db) {
  if (db === null || typeof db !== "object" || typeof db.loadExtension !== "function") {
    throw new TypeError("message-store-sqlite: load(db) takes a better-sqlite3 Database (an object with loadExtension(path))");
  }
  db.loadExtension(getLoadablePath());
}

exports.getLoadablePath = getLoadablePath;
exports.load = load;
