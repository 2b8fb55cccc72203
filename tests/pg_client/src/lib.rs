//! Harness for client tests of the installed `message_store` extension in a
//! running Postgres cluster. Each test gets a database of its own, made fresh
//! with only `CREATE EXTENSION message_store`.
//!
//! The server is found through `MESSAGE_STORE_TEST_PG` (a libpq-style
//! connection string for a superuser), by default the local cluster on
//! 127.0.0.1:5432 as `postgres` with password `postgres`, as `.ci/run` sets up.

use message_store_slt::{Cell, Engine, EngineError};
use postgres::{Client, NoTls, SimpleQueryMessage};
use std::sync::{Arc, Mutex};

pub fn admin_connection_string() -> String {
    std::env::var("MESSAGE_STORE_TEST_PG").unwrap_or_else(|_| {
        "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres".to_string()
    })
}

pub fn connect(extra: &str) -> Client {
    let params = format!("{} {extra}", admin_connection_string());
    Client::connect(&params, NoTls).unwrap_or_else(|e| panic!("connect ({extra}): {e}"))
}

/// A fresh database holding only the extension; returns its name and a
/// superuser connection to it.
pub fn fresh_database(name: &str) -> (String, Client) {
    database_with("", name)
}

/// A fresh database holding only the extension at an older `version`,
/// installed from that release's frozen script.
pub fn fresh_database_at(version: &str, name: &str) -> (String, Client) {
    database_with(&format!(" VERSION '{version}'"), name)
}

/// An empty UTF8 database `ms_test_<name>`, made again if it exists,
/// owned by `owner` (the superuser when `None`); returns its name.
pub fn empty_database(name: &str, owner: Option<&str>) -> String {
    let db = format!("ms_test_{name}");
    let mut admin = connect("");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    let owner = owner
        .map(|role| format!(" OWNER {role}"))
        .unwrap_or_default();
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {db}{owner} TEMPLATE template0 ENCODING 'UTF8'"
        ))
        .unwrap();
    db
}

fn database_with(version_clause: &str, name: &str) -> (String, Client) {
    let db = empty_database(name, None);
    let mut client = connect(&format!("dbname={db}"));
    client
        .batch_execute(&format!("CREATE EXTENSION message_store{version_clause}"))
        .unwrap();
    (db, client)
}

/// A fresh database shaped as a Message DB 1.3 install, without the
/// extension: `tests/pg_client/fixtures/message_db_1_3.sql` run in it by the
/// superuser, who owns its objects. Returns its name and a superuser
/// connection whose search_path is `message_store, public`, as Message DB's
/// clients set it: the fixture's function bodies, like Message DB's, name
/// the store's objects without their schema.
pub fn message_db_database(name: &str) -> (String, Client) {
    let db = empty_database(name, None);
    let fixture = workspace_file("tests/pg_client/fixtures/message_db_1_3.sql");
    connect(&format!("dbname={db}"))
        .batch_execute(&fixture)
        .unwrap_or_else(|e| panic!("message_db_1_3.sql in {db}: {e:?}"));
    let client = connect(&format!(
        "dbname={db} options='-c search_path=message_store,public'"
    ));
    (db, client)
}

/// This build's version (the workspace's).
pub const CURRENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A file of the workspace, by its path from the workspace's root.
pub fn workspace_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The releases CHANGELOG.md lists, newest first: each version, with its
/// date, or `None` while it is unreleased. Entries are `## [x.y.z] - date`
/// or `## [x.y.z] - Unreleased`.
pub fn changelog_versions() -> Vec<(String, Option<String>)> {
    workspace_file("CHANGELOG.md")
        .lines()
        .filter_map(|line| line.strip_prefix("## ["))
        .map(|rest| {
            let (version, when) = rest.split_once("] - ").unwrap_or_else(|| {
                panic!("CHANGELOG heading \"## [{rest}\" is not \"## [x.y.z] - date\"")
            });
            let date = (when != "Unreleased").then(|| when.to_string());
            (version.to_string(), date)
        })
        .collect()
}

/// The released versions (dated in CHANGELOG.md), oldest first.
pub fn released_versions() -> Vec<String> {
    let mut released: Vec<String> = changelog_versions()
        .into_iter()
        .filter(|(_, date)| date.is_some())
        .map(|(version, _)| version)
        .collect();
    released.reverse();
    released
}

/// The messages of the notices a connection has received and not yet taken.
#[derive(Clone, Default)]
pub struct Notices(Arc<Mutex<Vec<String>>>);

impl Notices {
    /// The messages received since the last take, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A superuser connection to database `db` that keeps every notice's message.
pub fn connect_keeping_notices(db: &str) -> (Client, Notices) {
    let notices = Notices::default();
    let sink = notices.clone();
    let mut config: postgres::Config = admin_connection_string().parse().unwrap();
    config.dbname(db).notice_callback(move |notice| {
        sink.0.lock().unwrap().push(notice.message().to_string());
    });
    (config.connect(NoTls).unwrap(), notices)
}

/// The SQLSTATE and message of a failed call; panics when it succeeded or
/// failed outside the server.
pub fn db_error(result: Result<impl std::fmt::Debug, postgres::Error>) -> (String, String) {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            let db = e
                .as_db_error()
                .unwrap_or_else(|| panic!("not a server error: {e}"));
            (db.code().code().to_string(), db.message().to_string())
        }
    }
}

/// Asserts a call fails with exactly this SQLSTATE and message.
#[track_caller]
pub fn assert_error(
    result: Result<impl std::fmt::Debug, postgres::Error>,
    sqlstate: &str,
    message: &str,
) {
    assert_eq!(
        db_error(result),
        (sqlstate.to_string(), message.to_string())
    );
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Writes a message with an empty object as data; returns its position.
pub fn write(client: &mut Client, stream_name: &str, message_type: &str) -> i64 {
    client
        .query_one(
            "SELECT message_store.write_message($1, $2, $3, '{}'::jsonb)",
            &[&new_id(), &stream_name, &message_type],
        )
        .unwrap()
        .get(0)
}

/// Writes a message with metadata given as JSON text.
pub fn write_with_metadata(client: &mut Client, stream_name: &str, metadata: &str) -> i64 {
    client
        .query_one(
            "SELECT message_store.write_message($1, $2, 'SomeType', '{}'::jsonb, $3::text::jsonb)",
            &[&new_id(), &stream_name, &metadata],
        )
        .unwrap()
        .get(0)
}

/// The extension's objects as text lines, one query per kind of object,
/// named by name (never by oid), sorted: two databases whose catalogs are
/// equal hold the same objects, owners and grants.
pub fn extension_catalog(client: &mut Client) -> Vec<String> {
    const QUERIES: &[(&str, &str)] = &[
        (
            "extension",
            "SELECT extname || ' owner=' || extowner::regrole || ' schema=' || extnamespace::regnamespace
                    || ' relocatable=' || extrelocatable || ' version=' || extversion
             FROM pg_extension WHERE extname = 'message_store'",
        ),
        (
            "schema",
            "SELECT nspname || ' owner=' || nspowner::regrole || ' acl=' || coalesce(nspacl::text, '-')
             FROM pg_namespace WHERE nspname = 'message_store'",
        ),
        (
            "function",
            "SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') returns '
                    || pg_get_function_result(p.oid) || ' kind=' || p.prokind::text::text
                    || ' volatility=' || p.provolatile::text || ' strict=' || p.proisstrict
                    || ' parallel=' || p.proparallel::text || ' security_definer=' || p.prosecdef
                    || ' leakproof=' || p.proleakproof || ' cost=' || p.procost || ' rows=' || p.prorows
                    || ' language=' || l.lanname || ' src=' || md5(p.prosrc) || ' bin=' || coalesce(p.probin, '-')
                    || ' config=' || coalesce(p.proconfig::text, '-')
                    || ' owner=' || p.proowner::regrole || ' acl=' || coalesce(p.proacl::text, '-')
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'message_store'::regnamespace",
        ),
        (
            "type",
            "SELECT t.typname || ' kind=' || t.typtype::text || ' owner=' || t.typowner::regrole
                    || ' acl=' || coalesce(t.typacl::text, '-') || ' attributes=' || coalesce((
                      SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                      FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '-')
             FROM pg_type t WHERE t.typnamespace = 'message_store'::regnamespace",
        ),
        (
            "relation",
            "SELECT c.relname || ' kind=' || c.relkind::text || ' owner=' || c.relowner::regrole
                    || ' acl=' || coalesce(c.relacl::text, '-') || ' persistence=' || c.relpersistence::text
                    || ' options=' || coalesce(c.reloptions::text, '-')
             FROM pg_class c WHERE c.relnamespace = 'message_store'::regnamespace",
        ),
        (
            "column",
            "SELECT c.relname || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
                    || ' not_null=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
                    || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
                    || ' collation=' || a.attcollation::regcollation || ' storage=' || a.attstorage::text
                    || ' compression=' || a.attcompression::text
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE c.relnamespace = 'message_store'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped",
        ),
        (
            "constraint",
            "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'message_store'::regnamespace",
        ),
        (
            "index",
            "SELECT indexrelid::regclass || ' ' || pg_get_indexdef(indexrelid)
             FROM pg_index WHERE indrelid = 'message_store.messages'::regclass",
        ),
        (
            "view",
            "SELECT c.relname || ' ' || pg_get_viewdef(c.oid)
             FROM pg_class c WHERE c.relnamespace = 'message_store'::regnamespace AND c.relkind = 'v'",
        ),
        (
            "sequence",
            "SELECT s.seqrelid::regclass || ' ' || s.seqtypid::regtype || ' start=' || s.seqstart
                    || ' increment=' || s.seqincrement || ' min=' || s.seqmin || ' max=' || s.seqmax
                    || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
                    || ' owned_by=' || coalesce(pg_get_serial_sequence('message_store.messages', 'global_position'), '-')
             FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
             WHERE c.relnamespace = 'message_store'::regnamespace",
        ),
        (
            "config_dump",
            "SELECT u.relation::regclass || ' condition=' || u.condition
             FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(relation, condition)
             WHERE e.extname = 'message_store'",
        ),
        (
            "member",
            "SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
             FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
             WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'message_store' AND d.deptype = 'e'",
        ),
        (
            "trigger",
            "SELECT tgrelid::regclass || ' ' || tgname FROM pg_trigger
             WHERE tgrelid = 'message_store.messages'::regclass",
        ),
        (
            "comment",
            "SELECT pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || d.description
             FROM pg_description d JOIN pg_depend x ON x.classid = d.classoid AND x.objid = d.objoid
             JOIN pg_extension e ON x.refobjid = e.oid
             WHERE x.refclassid = 'pg_extension'::regclass AND e.extname = 'message_store'",
        ),
    ];
    let mut lines = Vec::new();
    for (kind, sql) in QUERIES {
        let mut rows: Vec<String> = client
            .query(*sql, &[])
            .unwrap_or_else(|e| panic!("{kind}: {e:?}"))
            .iter()
            .map(|row| format!("{kind}: {}", row.get::<_, String>(0)))
            .collect();
        assert!(
            !rows.is_empty() || matches!(*kind, "trigger" | "comment"),
            "no {kind} rows"
        );
        rows.sort();
        lines.extend(rows);
    }
    lines
}

/// A connection as the corpus engine: the simple protocol, so every value
/// comes back as Postgres' text output.
pub struct Postgres(pub Client);

impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    /// The simple protocol returns every value as Postgres' text output,
    /// which is what the corpus compares.
    fn run(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>, EngineError> {
        let messages = self
            .0
            .simple_query(sql)
            .map_err(|e| match e.as_db_error() {
                Some(db) => EngineError {
                    sqlstate: Some(db.code().code().to_string()),
                    message: db.message().to_string(),
                },
                None => EngineError {
                    sqlstate: None,
                    message: e.to_string(),
                },
            })?;
        Ok(messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| match row.get(i) {
                            Some(text) => Cell::Text(text.to_string()),
                            None => Cell::Null,
                        })
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }
}

/// A login role (password `client`) with the client privileges.
pub fn client_role(admin: &mut Client, role: &str) {
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role};
             CREATE ROLE {role} LOGIN PASSWORD 'client' NOINHERIT;
             SELECT message_store.grant_client_privileges('{role}');"
        ))
        .unwrap();
}

/// A connection to `db` as `role`, over the admin string's host and port.
pub fn connect_as(db: &str, role: &str, options: &str) -> Client {
    let base = admin_connection_string();
    // Keep host and port of the admin string; replace user, password, dbname.
    let kept: Vec<&str> = base
        .split_whitespace()
        .filter(|kv| kv.starts_with("host=") || kv.starts_with("port="))
        .collect();
    let params = format!(
        "{} user={role} password=client dbname={db} {options}",
        kept.join(" ")
    );
    Client::connect(&params, postgres::NoTls).unwrap()
}

/// The payloads `listener` receives on the channel `message_store` until
/// none comes for `quiet`; a notification on any other channel fails the
/// test.
pub fn received(listener: &mut Client, quiet: std::time::Duration) -> Vec<String> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut payloads = Vec::new();
    let mut notifications = listener.notifications();
    let mut iter = notifications.timeout_iter(quiet);
    while let Some(notification) = iter.next().unwrap() {
        assert_eq!(notification.channel(), "message_store");
        payloads.push(notification.payload().to_string());
    }
    payloads
}

/// The payload a commit's notification carries for `category`, whose
/// highest new global position is `global_position`.
pub fn hint(category: &str, global_position: i64) -> String {
    format!(r#"{{"category":"{category}","global_position":{global_position}}}"#)
}

/// The first column of every row `sql` returns, a text column.
pub fn strings(client: &mut Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Every message as the row's text, in global order.
pub fn messages_as_text(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT m::text FROM message_store.messages m ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The uid and gid of the `postgres` OS user when the tests run as root
/// (Postgres and PgBouncer refuse to run as root), `None` otherwise (they
/// run as the user the tests run as).
fn server_os_user() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    (std::fs::metadata("/proc/self").unwrap().uid() == 0).then(|| {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        let line = passwd
            .lines()
            .find(|line| line.starts_with("postgres:"))
            .expect("a postgres OS user to run Postgres and PgBouncer as");
        let fields: Vec<&str> = line.split(':').collect();
        (fields[2].parse().unwrap(), fields[3].parse().unwrap())
    })
}

/// An empty directory `target/<name>-<pid>` owned by `ids` (when given).
fn throwaway_directory(name: &str, ids: Option<(u32, u32)>) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target"))
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    }
    dir
}

/// A local TCP port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway cluster of its own, for what the shared test cluster cannot
/// be (a setting that needs a restart, a standby): on a free local port,
/// its data directory under `target/`, run as the `postgres` OS user when
/// the tests run as root. Dropping it stops the server and removes the
/// files.
pub struct ThrowawayCluster {
    dir: std::path::PathBuf,
    port: u16,
    ids: Option<(u32, u32)>,
}

impl ThrowawayCluster {
    fn command(&self, program: &str) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(
            std::path::Path::new("/usr/lib/postgresql/15/bin").join(program),
        );
        if let Some((uid, gid)) = self.ids {
            command.uid(uid).gid(gid);
        }
        command.stdin(std::process::Stdio::null());
        command
    }

    /// A cluster's directory, port and OS user, before anything is in it.
    fn new(name: &str) -> ThrowawayCluster {
        let ids = server_os_user();
        let dir = throwaway_directory(name, ids);
        ThrowawayCluster {
            dir,
            port: free_port(),
            ids,
        }
    }

    fn run(&self, command: &mut std::process::Command, what: &str) {
        let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            output.status.success(),
            "{what}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the server with `settings` (`-c name=value` each) and waits
    /// until it takes connections.
    fn start_server(&self, settings: &[&str]) {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.dir.display()
        );
        for setting in settings {
            options.push_str(&format!(" -c {setting}"));
        }
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-l"])
            .arg(self.dir.join("log"))
            .args(["-o", &options, "start"]);
        self.run(&mut command, "pg_ctl start");
    }

    /// A new cluster (initdb, trust authentication, no locale), started
    /// with `settings`.
    pub fn start(name: &str, settings: &[&str]) -> ThrowawayCluster {
        let cluster = ThrowawayCluster::new(name);
        let mut command = cluster.command("initdb");
        command
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
            .arg("--no-locale")
            .arg("--pgdata")
            .arg(cluster.dir.join("data"));
        cluster.run(&mut command, "initdb");
        cluster.start_server(settings);
        cluster
    }

    /// A hot standby of `primary`, made with `pg_basebackup -R` (which
    /// writes its connection to the primary), started.
    pub fn standby_of(primary: &ThrowawayCluster, name: &str) -> ThrowawayCluster {
        let standby = ThrowawayCluster::new(name);
        let mut command = standby.command("pg_basebackup");
        command
            .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
            .args(["-p", &primary.port.to_string()])
            .arg("-D")
            .arg(standby.dir.join("data"));
        standby.run(&mut command, "pg_basebackup");
        standby.start_server(&["hot_standby=on"]);
        standby
    }

    /// A superuser connection to database `db`.
    pub fn connect(&self, db: &str) -> Client {
        self.connect_as(db, "postgres")
    }

    /// A connection to database `db` as `role` (the cluster trusts every
    /// local login).
    pub fn connect_as(&self, db: &str, role: &str) -> Client {
        Client::connect(
            &format!("host=127.0.0.1 port={} user={role} dbname={db}", self.port),
            NoTls,
        )
        .unwrap()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A PgBouncer of its own (Debian's `pgbouncer`, installed by
/// tests/setup.sh) in transaction mode, in front of one Postgres server:
/// config, auth file, pid file and log in a throwaway directory under
/// `target/`, on a free local port, run as the `postgres` OS user when the
/// tests run as root (PgBouncer refuses to run as root). Every database of
/// the server is reachable through it (`* =`), with one pool per database
/// and user. Dropping it stops the process and removes the files.
///
/// Logins are checked against a userlist of plain passwords (SCRAM from the
/// client), so PgBouncer can log in to a server that stores SCRAM secrets:
/// the admin string's superuser is in it from the start, other roles come
/// with [`Pooler::add_user`].
pub struct Pooler {
    dir: std::path::PathBuf,
    port: u16,
    users: Mutex<Vec<(String, String)>>,
    process: std::process::Child,
}

impl Pooler {
    /// The program, as Debian installs it.
    pub const PROGRAM: &'static str = "/usr/sbin/pgbouncer";

    /// A pooler in front of the server of the admin connection string (the
    /// test cluster), `pool_size` server connections per database and user.
    pub fn start_for_test_cluster(name: &str, pool_size: u32, settings: &[&str]) -> Pooler {
        let config: postgres::Config = admin_connection_string().parse().unwrap();
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(host)) => host.clone(),
            other => panic!("the admin connection string names no TCP host: {other:?}"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        Pooler::start(
            name,
            &format!("host={host} port={port}"),
            pool_size,
            settings,
        )
    }

    /// A pooler in front of the server that `server` (libpq-style
    /// `host=… port=…`, as PgBouncer's `[databases]` lines take it) names,
    /// in transaction mode with `pool_size` server connections per database
    /// and user; `settings` (`name = value` each) are further lines of its
    /// `[pgbouncer]` section, and override the ones here. Waits until it
    /// takes connections.
    pub fn start(name: &str, server: &str, pool_size: u32, settings: &[&str]) -> Pooler {
        let ids = server_os_user();
        let dir = throwaway_directory(name, ids);
        let port = free_port();
        let config: postgres::Config = admin_connection_string().parse().unwrap();
        let user = config.get_user().expect("a user in the admin string");
        let password = String::from_utf8(
            config
                .get_password()
                .expect("a password in the admin string")
                .to_vec(),
        )
        .unwrap();
        let mut lines = vec![
            "[databases]".to_string(),
            format!("* = {server}"),
            String::new(),
            "[pgbouncer]".to_string(),
            "listen_addr = 127.0.0.1".to_string(),
            format!("listen_port = {port}"),
            format!("unix_socket_dir = {}", dir.display()),
            "auth_type = scram-sha-256".to_string(),
            format!("auth_file = {}", dir.join("userlist.txt").display()),
            format!("admin_users = {user}"),
            "pool_mode = transaction".to_string(),
            format!("default_pool_size = {pool_size}"),
            "min_pool_size = 0".to_string(),
            "reserve_pool_size = 0".to_string(),
            "max_client_conn = 100".to_string(),
            format!("logfile = {}", dir.join("pgbouncer.log").display()),
            format!("pidfile = {}", dir.join("pgbouncer.pid").display()),
        ];
        // A later line of the same name wins in PgBouncer's ini reader.
        lines.extend(settings.iter().map(|setting| setting.to_string()));
        let config_path = dir.join("pgbouncer.ini");
        write_owned(&config_path, &(lines.join("\n") + "\n"), ids);
        let users = vec![(user.to_string(), password)];
        write_owned(&dir.join("userlist.txt"), &userlist(&users), ids);

        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(Pooler::PROGRAM);
        if let Some((uid, gid)) = ids {
            command.uid(uid).gid(gid);
        }
        let process = command
            .arg(&config_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (tests/setup.sh installs Debian's pgbouncer)",
                    Pooler::PROGRAM
                )
            });
        let mut pooler = Pooler {
            dir,
            port,
            users: Mutex::new(users),
            process,
        };
        pooler.wait_until_listening();
        pooler
    }

    fn wait_until_listening(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                panic!("pgbouncer exited ({status}): {}", self.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer does not listen on port {}: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq-style connection string to database `db` through the pooler
    /// as `user` with `password`, followed by `extra`.
    pub fn connection_string(&self, db: &str, user: &str, password: &str, extra: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname={db} {extra}",
            self.port
        )
    }

    /// A connection to `db` through the pooler as the admin string's
    /// superuser.
    pub fn connect(&self, db: &str) -> Client {
        let users = self.users.lock().unwrap();
        let (user, password) = users[0].clone();
        drop(users);
        self.connect_as(db, &user, &password, "")
            .unwrap_or_else(|e| panic!("connect through pgbouncer to {db}: {e}"))
    }

    /// A connection to `db` through the pooler as `user` (a user of its
    /// userlist), followed by `extra` connection parameters.
    pub fn connect_as(
        &self,
        db: &str,
        user: &str,
        password: &str,
        extra: &str,
    ) -> Result<Client, postgres::Error> {
        Client::connect(&self.connection_string(db, user, password, extra), NoTls)
    }

    /// A connection to PgBouncer's admin console (the database `pgbouncer`;
    /// simple query protocol only: `SHOW POOLS`, `RECONNECT`, `RELOAD`).
    pub fn console(&self) -> Client {
        self.connect("pgbouncer")
    }

    /// Adds `user` with `password` to the userlist and has PgBouncer read
    /// it again.
    pub fn add_user(&self, user: &str, password: &str) {
        let mut users = self.users.lock().unwrap();
        users.retain(|(name, _)| name != user);
        users.push((user.to_string(), password.to_string()));
        write_owned(
            &self.dir.join("userlist.txt"),
            &userlist(&users),
            server_os_user(),
        );
        drop(users);
        self.console().simple_query("RELOAD").unwrap();
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PgBouncer's auth file: `"user" "password"` lines, `"` doubled inside.
fn userlist(users: &[(String, String)]) -> String {
    users
        .iter()
        .map(|(user, password)| {
            format!(
                "\"{}\" \"{}\"\n",
                user.replace('"', "\"\""),
                password.replace('"', "\"\"")
            )
        })
        .collect()
}

/// Writes `text` to `path`, readable only by its owner, owned by `ids`
/// (when given).
fn write_owned(path: &std::path::Path, text: &str, ids: Option<(u32, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    }
}
