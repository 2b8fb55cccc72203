#!/usr/bin/env bash
# The npm package end to end, as a Node developer meets it: builds the
# tarball (sqlite_ext/node/build.sh), installs it with better-sqlite3@12
# into an empty folder, and in a real session writes messages with
# write_message, write_messages and write_batch to a database file and reads
# them back on a new connection with the readers. Also checks that the
# package's version is the workspace's, that it carries the license, that
# its TypeScript declarations type-check a use (and refuse a wrong one),
# that its peer range refuses better-sqlite3 13, that npm enforces its os,
# cpu and libc fields, and that it refuses to hand out its library on
# another platform. The folder is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"

source tests/lib.sh
# better-sqlite3 compiles its addon from source here (node-gyp: make, g++, python3).
packages=(build-essential python3 binutils)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
install_packages "${packages[@]}"

# The workspace's version, read from the root Cargo.toml's [workspace.package].
version="$(awk '/^\[/ { section = $0 } section == "[workspace.package]" && $1 == "version" { gsub(/"/, "", $3); print $3 }' Cargo.toml)"
[ -n "$version" ] || { echo "node package: no version in Cargo.toml's [workspace.package]" >&2; exit 1; }

tarball="$(bash sqlite_ext/node/build.sh | tail -n 1)"
[ "$tarball" = "$root/target/dist/message-store-sqlite-$version.tgz" ] \
  || { echo "node package: built $tarball, expected message-store-sqlite-$version.tgz" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/app" "$work/app13"
cd "$work/app"
npm install --no-audit --no-fund --loglevel=error "$tarball" better-sqlite3@12 typescript@5 @types/better-sqlite3@7

cat >session.js <<'JS'
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const Database = require("better-sqlite3");
const store = require("message-store-sqlite");
const [version, dir, license] = process.argv.slice(2);

const installed = path.join(dir, "node_modules", "message-store-sqlite");
const manifest = require("message-store-sqlite/package.json");
assert.equal(manifest.version, version);
assert.deepEqual([manifest.os, manifest.cpu, manifest.libc, manifest.license], [["linux"], ["x64"], ["glibc"], "MIT"]);
assert.equal(manifest.peerDependencies["better-sqlite3"], "^12");
assert.equal(require("better-sqlite3/package.json").version.split(".")[0], "12");
assert.equal(fs.readFileSync(path.join(installed, "LICENSE"), "utf8"), fs.readFileSync(license, "utf8"));
assert.equal(store.getLoadablePath(), path.join(installed, "lib", "libmessage_store_sqlite.so"));
assert.throws(() => store.load({}), {
  name: "TypeError",
  message: "message-store-sqlite: load(db) takes a better-sqlite3 Database (an object with loadExtension(path))",
});

const file = path.join(dir, "store.db");
const db = new Database(file);
db.pragma("journal_mode = WAL");
store.load(db);
const one = (sql, ...args) => db.prepare(sql).pluck().get(...args);
const id = (n) => `6c4b6f2e-33a8-4a2b-9d6e-0c8a1f6f1a0${n}`;

assert.equal(one("SELECT message_store_version()"), "1.3.0");
assert.equal(one("SELECT write_message(?, ?, ?, ?)", id(1), "account-123", "Opened", '{"owner":"ada"}'), 0);
assert.equal(
  one("SELECT write_message(?, ?, ?, ?, ?, ?)", id(2), "account-123", "Deposited", '{"amount":10}', '{"correlationStreamName":"transfer-7"}', 0),
  1,
);
const messages = [
  { id: id(3), type: "Withdrawn", data: { amount: 5 } },
  { id: id(4), type: "Deposited", data: { amount: 7 }, metadata: null },
];
assert.equal(one("SELECT write_messages(?, ?, ?)", "account-123", JSON.stringify(messages), 1), 3);
const batch = [
  { stream_name: "account-123", expected_version: 3, messages: [{ id: id(5), type: "Withdrawn", data: { amount: 1 } }] },
  { stream_name: "account-456", expected_version: null, messages: [{ id: id(6), type: "Opened", data: { owner: "bob" } }] },
];
assert.equal(one("SELECT write_batch(?)", JSON.stringify(batch)), "[4,0]");
assert.throws(() => one("SELECT write_message(?, ?, ?, ?, ?, ?)", id(7), "account-123", "Deposited", "{}", null, 0), {
  message: "Wrong expected version: 0 (Stream: account-123, Stream Version: 4)",
});
// A batch with one stale entry writes none of its entries.
const stale = [
  { stream_name: "account-789", expected_version: -1, messages: [{ id: id(8), type: "Opened", data: {} }] },
  { stream_name: "account-456", expected_version: 5, messages: [{ id: id(9), type: "Closed", data: {} }] },
];
assert.throws(() => one("SELECT write_batch(?)", JSON.stringify(stale)), {
  message: "Wrong expected version: 5 (Stream: account-456, Stream Version: 0)",
});
db.close();

// A new connection to the file reads what the first one wrote.
const reader = new Database(file, { readonly: true });
store.load(reader);
const rows = (sql, ...args) => reader.prepare(sql).raw().all(...args);
const time = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;
const stream = reader.prepare("SELECT * FROM get_stream_messages(?)").all("account-123");
for (const row of stream) assert.match(row.time, time);
assert.deepEqual(
  stream.map((m) => [m.id, m.stream_name, m.type, m.position, m.global_position, m.data, m.metadata]),
  [
    [id(1), "account-123", "Opened", 0, 1, '{"owner": "ada"}', null],
    [id(2), "account-123", "Deposited", 1, 2, '{"amount": 10}', '{"correlationStreamName": "transfer-7"}'],
    [id(3), "account-123", "Withdrawn", 2, 3, '{"amount": 5}', null],
    [id(4), "account-123", "Deposited", 3, 4, '{"amount": 7}', null],
    [id(5), "account-123", "Withdrawn", 4, 5, '{"amount": 1}', null],
  ],
);
assert.deepEqual(rows("SELECT position FROM get_stream_messages(?, ?, ?)", "account-123", 2, 2), [[2], [3]]);
assert.deepEqual(rows("SELECT stream_name, position, global_position FROM get_category_messages(?, ?, ?)", "account", 1, 100), [
  ["account-123", 0, 1],
  ["account-123", 1, 2],
  ["account-123", 2, 3],
  ["account-123", 3, 4],
  ["account-123", 4, 5],
  ["account-456", 0, 6],
]);
assert.deepEqual(rows("SELECT global_position FROM get_category_messages(?, ?, ?)", "account", 5, 100), [[5], [6]]);
// Consumer group of two: the members split the category by stream, together all of it.
const groups = [0, 1].map((member) =>
  rows("SELECT stream_name, global_position FROM get_category_messages(?, ?, ?, ?, ?, ?)", "account", 1, 100, null, member, 2),
);
const isMember = reader.prepare("SELECT is_consumer_group_member(?, ?, 2)").pluck();
for (const [member, group] of groups.entries()) {
  for (const [name] of group) assert.equal(isMember.get(name, member), 1);
}
assert.deepEqual(groups.flat().map(([, g]) => g).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
assert.deepEqual(rows("SELECT type, position FROM get_last_stream_message(?)", "account-456"), [["Opened", 0]]);
assert.equal(reader.prepare("SELECT stream_version(?)").pluck().get("account-123"), 4);
assert.equal(reader.prepare("SELECT stream_version(?)").pluck().get("account-789"), null);
reader.close();
console.log("node package: session ok");
JS
node session.js "$version" "$(pwd -P)" "$root/LICENSE"

# The package README's example runs as it stands, in a folder of its own.
mkdir readme
awk '/^```js$/ { on = 1; next } /^```$/ { on = 0 } on' "$root/sqlite_ext/node/README.md" >readme/example.js
(cd readme && node example.js) >readme.txt
grep -q "stream_name: 'account-123'" readme.txt && grep -q "data: '{\"owner\": \"ada\"}'" readme.txt \
  || { echo "node package: the README example printed:" >&2; cat readme.txt >&2; exit 1; }
[ -f readme/store.db ] || { echo "node package: the README example wrote no store.db" >&2; exit 1; }

# ES modules see the same two functions by name.
node --input-type=module -e '
import { load, getLoadablePath } from "message-store-sqlite";
import Database from "better-sqlite3";
const db = new Database(":memory:");
load(db);
if (db.prepare("SELECT stream_version(?)").pluck().get("a-1") !== null) throw new Error("stream_version");
console.log("node package: ES module import ok,", getLoadablePath().endsWith("/lib/libmessage_store_sqlite.so"));
'

# On another platform the package says what to do instead of failing in dlopen.
node -e '
Object.defineProperty(process, "platform", { value: "darwin" });
try { require("message-store-sqlite").getLoadablePath(); process.exit(1); } catch (error) { console.log(error.message); }
' >platform.txt
expected="message-store-sqlite holds a library for linux-x64 only, not darwin-x64: build it from source (cargo build --release -p message_store_sqlite) and load that file with db.loadExtension(path)"
[ "$(cat platform.txt)" = "$expected" ] || { echo "node package: on darwin getLoadablePath said: $(cat platform.txt)" >&2; exit 1; }

# The declarations type-check a use with better-sqlite3's own types, and refuse a wrong one.
cat >good.ts <<'TS'
import Database from "better-sqlite3";
import { getLoadablePath, load } from "message-store-sqlite";
const db = new Database(":memory:");
load(db);
const file: string = getLoadablePath();
console.log(file);
TS
cat >bad.ts <<'TS'
import { load } from "message-store-sqlite";
load("store.db");
TS
tsc=(npx --no-install tsc --noEmit --strict --esModuleInterop --module commonjs --target es2022)
"${tsc[@]}" good.ts
if "${tsc[@]}" bad.ts >tsc-bad.txt 2>&1; then
  echo "node package: the declarations let load(\"store.db\") through" >&2; exit 1
fi
grep -q "error TS2345: Argument of type 'string' is not assignable to parameter of type 'ExtensionLoader'" tsc-bad.txt \
  || { echo "node package: tsc refused bad.ts for another reason:" >&2; cat tsc-bad.txt >&2; exit 1; }
echo "node package: TypeScript declarations ok"

# better-sqlite3 13 crashes on Node 20: npm must refuse to pair the package with it.
cd "$work/app13"
if npm install --dry-run --no-audit --no-fund "$tarball" better-sqlite3@13 >npm13.txt 2>&1; then
  echo "node package: npm accepted better-sqlite3@13 beside the package" >&2; exit 1
fi
grep -q 'peer better-sqlite3@"^12" from message-store-sqlite@'"$version" npm13.txt \
  || { echo "node package: npm refused better-sqlite3@13 for another reason:" >&2; cat npm13.txt >&2; exit 1; }
echo "node package: better-sqlite3 13 refused"

# npm installs the package only where its os, cpu and libc fields allow:
# here it did (above); copies of the tarball claiming another cpu or libc
# are refused by npm's own platform check, so the fields are the ones npm
# enforces.
for field in 'cpu=arm64' 'libc=musl'; do
  name="${field%%=*}" value="${field#*=}"
  rm -rf "$work/repack" && mkdir "$work/repack"
  tar -xzf "$tarball" -C "$work/repack"
  node -e '
    const fs = require("node:fs");
    const [file, name, value] = process.argv.slice(1);
    const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
    manifest[name] = [value];
    fs.writeFileSync(file, JSON.stringify(manifest, null, 2));
  ' "$work/repack/package/package.json" "$name" "$value"
  tar -czf "$work/other-$name.tgz" -C "$work/repack" package
  rm -rf "$work/app-$name" && mkdir "$work/app-$name" && cd "$work/app-$name"
  if npm install --dry-run --no-audit --no-fund "$work/other-$name.tgz" >npm.txt 2>&1; then
    echo "node package: npm installed a copy claiming $name $value" >&2; exit 1
  fi
  grep -q "notsup Valid $name: *$value" npm.txt \
    || { echo "node package: npm refused the $name $value copy for another reason:" >&2; cat npm.txt >&2; exit 1; }
done
echo "node package: npm refuses another cpu and another libc"
echo "node package: message-store-sqlite-$version ok"
