#!/usr/bin/env bash
# The whole test suite of both engines, from a fresh machine: installs what
# is missing, builds and installs the Postgres extension, builds the SQLite
# extension, then runs
# - the gates: rustfmt and clippy (warnings as errors) on every crate;
# - core's unit and property tests and the corpus format's own tests, and a
#   90-second fuzzing run of every core rule that reads user input;
# - the SQLite extension loaded into rusqlite, the sqlite3 CLI, Python and
#   Node: the conformance corpus, storage rules, bad input, several processes
#   on one WAL file, query plans, forced panics, a crash test, and the
#   cross-engine property tests (these also need the Postgres cluster);
#   then the SQLite extension under valgrind memcheck;
# - the Postgres client tests: the same corpus, installation, signatures,
#   forced panics and crash tests;
# - the Postgres isolation specs: several sessions' locks, races and reads;
# - the packages (tests/package.sh builds them), each installed as its users
#   install it, the Debian package last.
# README.md's "What the test command runs" says more.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh
bash tests/lint.sh
bash tests/install.sh

cargo test --release -p message_store_core -p message_store_slt
# A short fuzzing run of core's input rules (tests/fuzz.sh says how to run longer).
bash tests/fuzz.sh
# The extension and the crate that loads it are built in separate cargo
# invocations: their rusqlite features cannot be combined.
cargo build --release -p message_store_sqlite
cargo test --release -p message_store_sqlite
# The extension with its test-only panic probe, which the host tests' panics
# test loads: a build of its own (profile panic-probe, no fat LTO, so about a
# minute) into target/panic-probe/, never over the shipped library.
cargo build --profile panic-probe -p message_store_sqlite --features panic_probe
cargo test --release -p message_store_sqlite_tests
# The extension in the sqlite3 CLI and Python under valgrind memcheck.
bash tests/memcheck.sh
# The SQLite packages, each installed as its users install it: the wheel in
# a fresh venv (sqlite3 and apsw), the npm tarball in an empty folder with
# better-sqlite3 12, and the Rust library from a git dependency.
bash tests/packages/python.sh
bash tests/packages/node.sh
bash tests/packages/rust.sh
# The benchmarks are not run here (benches/report.sh does), but must build.
cargo bench -p message_store_benches --no-run
cargo test --release -p message_store_pg_tests
bash tests/isolation.sh
# The Debian package of the Postgres extension: installed with apt-get,
# used, updated from the oldest release, removed. It replaces the installed
# extension's files while it runs, so it comes last and reinstalls the
# extension (tests/install.sh) at the end.
bash tests/packages/deb.sh
# One version in every package the tests above built, the installed control
# file, META.json and the changelog: the workspace's.
bash tests/packages/versions.sh
