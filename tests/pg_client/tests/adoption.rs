//! Adopting a Message DB 1.3 store in place: `CREATE EXTENSION
//! message_store` in a database that holds one (the project's fixture,
//! `tests/pg_client/fixtures/message_db_1_3.sql`) takes it over without
//! rewriting the table or rebuilding an index, keeps every message, grant
//! and role, and leaves the catalog a fresh install's; a store of another
//! shape is refused with one error listing every difference and nothing
//! changed; clients connected before keep working; pg_dump carries the
//! adopted store; `sql/detach.sql` is the way back.

use message_store_pg_tests::*;
use postgres::Client;
use std::process::Command;
use std::sync::Mutex;

const FIXTURE: &str = "tests/pg_client/fixtures/message_db_1_3.sql";
const OTHER: &str = "ms_adopt_other";
const OWNER: &str = "ms_adopt_owner";

/// The roles the tests name, made once (roles are the cluster's).
fn roles() {
    static ROLES: Mutex<()> = Mutex::new(());
    let _roles = ROLES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    connect("")
        .batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OTHER}') THEN
                 CREATE ROLE {OTHER} NOLOGIN;
               END IF;
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN
                 CREATE ROLE {OWNER} LOGIN PASSWORD 'client' NOSUPERUSER NOCREATEDB NOCREATEROLE;
               END IF;
             END $$"
        ))
        .unwrap();
}

/// The fixture with messages its own write_message wrote: three
/// categories, metadata with and without a correlation, a failed write's
/// gap in the global positions. Returns the database and a superuser
/// connection with Message DB's search_path.
fn fixture_with_messages(name: &str) -> (String, Client) {
    let (db, mut c) = message_db_database(name);
    for i in 0..30 {
        let stream = format!("{}-{}", ["account", "order", "audit"][i % 3], i % 4);
        if i % 5 == 0 {
            write_with_metadata(
                &mut c,
                &stream,
                r#"{"correlationStreamName": "origin-7", "n": 1}"#,
            );
        } else {
            write(&mut c, &stream, "Happened");
        }
    }
    let id: String = c
        .query_one("SELECT id::text FROM messages LIMIT 1", &[])
        .unwrap()
        .get(0);
    assert_error(
        c.query_one("SELECT write_message($1, 'account-9', 'T', '{}')", &[&id]),
        "23505",
        "duplicate key value violates unique constraint \"messages_id\"",
    );
    write(&mut c, "account-9", "AfterTheGap");
    (db, c)
}

/// What adoption must not change and a refusal must leave exactly as it
/// was: every object in the schema with its owner, grants, storage file
/// and definition, the extensions and their members, the initial
/// privileges pg_dump compares with.
fn snapshot(c: &mut Client) -> Vec<String> {
    let queries = [
        "SELECT 'schema ' || nspname || ' ' || nspowner::regrole || ' ' || coalesce(nspacl::text, '-')
         FROM pg_namespace WHERE nspname = 'message_store'",
        "SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || c.relowner::regrole
                || ' ' || coalesce(c.relacl::text, '-') || ' file=' || c.relfilenode
         FROM pg_class c WHERE c.relnamespace = 'message_store'::regnamespace",
        "SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || a.attnum || ' '
                || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' '
                || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'message_store'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped",
        "SELECT 'index ' || pg_get_indexdef(indexrelid) || ' valid=' || indisvalid FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'message_store'::regnamespace",
        "SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_function_arguments(p.oid) || ' '
                || pg_get_function_result(p.oid) || ' ' || p.proowner::regrole || ' '
                || coalesce(p.proacl::text, '-') || ' ' || l.lanname || ' ' || md5(p.prosrc)
         FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
         WHERE p.pronamespace = 'message_store'::regnamespace",
        "SELECT 'type ' || t.typname || ' ' || t.typowner::regrole || ' ' || coalesce(t.typacl::text, '-')
         FROM pg_type t WHERE t.typnamespace = 'message_store'::regnamespace",
        "SELECT 'view ' || c.relname || ' ' || md5(pg_get_viewdef(c.oid))
         FROM pg_class c WHERE c.relnamespace = 'message_store'::regnamespace AND c.relkind = 'v'",
        "SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension",
        "SELECT 'member ' || e.extname || ' ' || pg_describe_object(d.classid, d.objid, d.objsubid)
         FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'",
        "SELECT 'init_privs ' || pg_describe_object(classoid, objoid, objsubid) || ' ' || initprivs::text
         FROM pg_init_privs WHERE privtype = 'e'",
        "SELECT 'sequence ' || last_value || ' ' || is_called FROM message_store.messages_global_position_seq",
    ];
    let mut lines = Vec::new();
    for sql in queries {
        let mut rows = strings(c, sql);
        rows.sort();
        lines.extend(rows);
    }
    lines
}

/// Each index's and the table's storage file: the same after adoption
/// means no rewrite and no rebuild.
fn storage_files(c: &mut Client) -> Vec<String> {
    strings(
        c,
        "SELECT c.relname || ' ' || c.relfilenode FROM pg_class c
         WHERE c.oid = 'message_store.messages'::regclass
            OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'message_store.messages'::regclass)
            OR c.oid = 'message_store.messages_global_position_seq'::regclass
         ORDER BY 1",
    )
}

/// The grants on the store's objects, by object.
fn grants(c: &mut Client) -> Vec<String> {
    strings(
        c,
        "SELECT * FROM (
           SELECT 'schema ' || nspname || ' ' || coalesce(nspacl::text, '-') FROM pg_namespace WHERE nspname = 'message_store'
           UNION ALL SELECT 'relation ' || c.relname || ' ' || coalesce(c.relacl::text, '-') FROM pg_class c
             WHERE c.relnamespace = 'message_store'::regnamespace AND c.relkind IN ('r', 'S', 'v')
           UNION ALL SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
                   || coalesce(p.proacl::text, '-') FROM pg_proc p
             WHERE p.pronamespace = 'message_store'::regnamespace
         ) g(line) ORDER BY 1",
    )
}

fn sequence_position(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT last_value FROM message_store.messages_global_position_seq",
        &[],
    )
    .unwrap()
    .get(0)
}

/// The extension's members, as a fresh install has them.
fn members(c: &mut Client) -> Vec<String> {
    strings(
        c,
        "SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d
         JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'message_store'
         ORDER BY 1",
    )
}

/// The message_store role's grants as the fixture gives them, on a fresh
/// install: Message DB's twelve functions, the table, sequence, views and
/// schema.
const MESSAGE_DB_GRANTS: &str = "
    GRANT USAGE ON SCHEMA message_store TO message_store;
    GRANT SELECT, INSERT ON message_store.messages TO message_store;
    GRANT USAGE, SELECT ON SEQUENCE message_store.messages_global_position_seq TO message_store;
    GRANT EXECUTE ON FUNCTION
      message_store.acquire_lock(varchar), message_store.cardinal_id(varchar),
      message_store.category(varchar), message_store.get_category_messages(varchar, bigint, bigint, varchar, bigint, bigint, varchar),
      message_store.get_last_stream_message(varchar, varchar),
      message_store.get_stream_messages(varchar, bigint, bigint, varchar),
      message_store.hash_64(varchar), message_store.id(varchar), message_store.is_category(varchar),
      message_store.message_store_version(), message_store.stream_version(varchar),
      message_store.write_message(varchar, varchar, varchar, jsonb, jsonb, bigint)
    TO message_store;
    GRANT SELECT ON message_store.stream_summary, message_store.type_summary,
      message_store.stream_type_summary, message_store.type_stream_summary,
      message_store.category_type_summary, message_store.type_category_summary
    TO message_store;";

fn message_store_role_password() {
    // The fixture gives the role no password (nor does Message DB); this
    // cluster's TCP logins need one.
    connect("")
        .batch_execute("ALTER ROLE message_store PASSWORD 'client'")
        .unwrap();
}

/// The grants of the extension's objects a fresh install gives its owner
/// only (none to PUBLIC), and its table with the default privileges.
const OWNER_ONLY: [&str; 8] = [
    "function grant_client_privileges(client_role name) {postgres=X/postgres}",
    "function grant_operator_privileges(operator_role name) {postgres=X/postgres}",
    "function remove_messages(stream_or_category character varying, before_time timestamp with time zone, before_global_position bigint, \"limit\" bigint) {postgres=X/postgres}",
    "function redact_stream(stream_name character varying) {postgres=X/postgres}",
    "function set_retention_policy(category character varying, kind character varying, amount bigint) {postgres=X/postgres}",
    "function clear_retention_policy(category character varying) {postgres=X/postgres}",
    "function apply_retention_policies(\"limit\" bigint) {postgres=X/postgres}",
    "relation retention_policies -",
];

#[test]
fn a_message_db_store_is_adopted_in_place() {
    let (db, mut c) = fixture_with_messages("adopt_in_place");
    // An index of the users' own: kept, and named in a NOTICE.
    c.batch_execute("CREATE INDEX messages_type ON message_store.messages (type)")
        .unwrap();
    let messages = messages_as_text(&mut c);
    assert_eq!(messages.len(), 31);
    let files = storage_files(&mut c);
    assert_eq!(files.len(), 7, "{files:?}");
    let grants_before = grants(&mut c);
    let position = sequence_position(&mut c);
    assert_eq!(position, 32, "31 messages and the failed write's gap");

    let (mut admin, notices) = connect_keeping_notices(&db);
    admin
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    assert_eq!(
        notices.take(),
        ["the indexes on message_store.messages that are not Message DB's are kept: messages_type"]
    );

    // Every message, its id, position and global position, unchanged;
    // nothing rewritten, nothing rebuilt; every grant as it was.
    assert_eq!(messages_as_text(&mut admin), messages);
    assert_eq!(storage_files(&mut admin), files);
    // The extension's own functions are new, granted to nobody (and
    // grant_client_privileges, grant_operator_privileges and the
    // operator's retention functions not to PUBLIC), and so is its
    // retention policies table.
    let grants_after = grants(&mut admin);
    let kept: Vec<String> = grants_after
        .iter()
        .filter(|line| grants_before.contains(line))
        .cloned()
        .collect();
    assert_eq!(kept, grants_before);
    let added: Vec<&String> = grants_after
        .iter()
        .filter(|line| !grants_before.contains(line))
        .filter(|line| {
            let ungranted_function = line.starts_with("function ") && line.ends_with(") -");
            !(ungranted_function || OWNER_ONLY.contains(&line.as_str()))
        })
        .collect();
    assert!(added.is_empty(), "{added:#?}");
    assert!(grants_after
        .contains(&"function write_batch(batch jsonb, idempotent boolean) -".to_string()));
    assert_eq!(sequence_position(&mut admin), position);
    assert!(strings(&mut admin, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'message_store.messages'::regclass AND NOT indisvalid").is_empty());

    // The members are a fresh install's, and so is the whole catalog once
    // the fresh install has the fixture's grants and index.
    let (_, mut fresh) = fresh_database("adopt_in_place_fresh");
    fresh
        .batch_execute(&format!(
            "{MESSAGE_DB_GRANTS}
             CREATE INDEX messages_type ON message_store.messages (type);"
        ))
        .unwrap();
    let adopted_members = members(&mut admin);
    assert_eq!(adopted_members, members(&mut fresh));
    assert!(
        [
            "table message_store.messages",
            "sequence message_store.messages_global_position_seq",
            "type message_store.message",
            "function message_store.category(character varying)",
            "function message_store.write_message(character varying,character varying,character varying,jsonb,jsonb,bigint)",
            "view message_store.type_category_summary",
        ]
        .iter()
        .all(|member| adopted_members.contains(&member.to_string())),
        "{adopted_members:#?}"
    );
    let expected = extension_catalog(&mut fresh);
    let actual = extension_catalog(&mut admin);
    let missing: Vec<&String> = expected.iter().filter(|l| !actual.contains(l)).collect();
    let extra: Vec<&String> = actual.iter().filter(|l| !expected.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    // Every object is the superuser's that ran CREATE EXTENSION.
    assert_eq!(
        strings(
            &mut admin,
            "SELECT DISTINCT owner::regrole::text FROM (
               SELECT relowner AS owner FROM pg_class WHERE relnamespace = 'message_store'::regnamespace
               UNION ALL SELECT proowner FROM pg_proc WHERE pronamespace = 'message_store'::regnamespace
               UNION ALL SELECT typowner FROM pg_type WHERE typnamespace = 'message_store'::regnamespace
             ) o"
        ),
        ["postgres"]
    );

    // The role Message DB made reads and appends through the extension's
    // functions, with its own search_path, and the sequence continues.
    message_store_role_password();
    let mut role = connect_as(&db, "message_store", "");
    assert_eq!(
        role.query_one(
            "SELECT write_message($1, 'account-9', 'Adopted', '{\"a\": 1}', NULL, 0)",
            &[&new_id()]
        )
        .unwrap()
        .get::<_, i64>(0),
        1
    );
    assert_eq!(
        strings(
            &mut role,
            "SELECT type || ' ' || position || ' ' || global_position FROM get_stream_messages('account-9')"
        ),
        ["AfterTheGap 0 32", "Adopted 1 33"]
    );
    assert_eq!(
        strings(
            &mut role,
            "SELECT stream_name || ' ' || global_position FROM get_category_messages('account', 1, 1000, 'origin')"
        ),
        ["account-0 1", "account-3 16"]
    );
    assert_eq!(
        strings(
            &mut role,
            "SELECT stream_name || ' ' || message_count FROM stream_summary WHERE stream_name LIKE 'account-%'"
        ),
        ["account-0 3", "account-1 2", "account-2 2", "account-3 3", "account-9 2"]
    );
    assert_error(
        role.execute("DELETE FROM messages", &[]),
        "42501",
        "permission denied for table messages",
    );
    // The extension's batch writers come with it: EXECUTE is PUBLIC's, as
    // on every new function, and the role's INSERT on the table does the
    // rest.
    assert_eq!(
        role.query_one(
            "SELECT write_messages('account-9', $1::text::jsonb, 1)",
            &[&format!(
                r#"[{{"id": "{}", "type": "Batched", "data": {{}}}}]"#,
                new_id()
            )]
        )
        .unwrap()
        .get::<_, i64>(0),
        2
    );
    // The functions are the extension's now: they work from any
    // search_path, as Message DB's did not.
    let mut plain = connect(&format!("dbname={db}"));
    assert_eq!(
        plain
            .query_one(
                "SELECT count(*) FROM message_store.get_stream_messages('account-9')",
                &[]
            )
            .unwrap()
            .get::<_, i64>(0),
        3
    );
}

#[test]
fn the_corpus_passes_on_an_adopted_store() {
    message_store_slt::run_corpus(|name| {
        let (db, mut c) = message_db_database(&format!("adopt_slt_{name}"));
        c.batch_execute("CREATE EXTENSION message_store").unwrap();
        Postgres(connect(&format!(
            "dbname={db} options='-c search_path=message_store,public'"
        )))
    });
}

/// A fixture changed by `breakage`, refused with exactly `differences`
/// (the error's detail, one per line), nothing changed by the attempt.
#[track_caller]
fn assert_refused(name: &str, breakage: &str, differences: &[&str]) {
    roles();
    let (db, mut c) = message_db_database(name);
    c.batch_execute(breakage)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let mut admin = connect(&format!("dbname={db}"));
    let before = snapshot(&mut admin);
    let error = admin
        .batch_execute("CREATE EXTENSION message_store")
        .expect_err(name);
    let error = error.as_db_error().expect("a server error");
    assert_eq!(
        (
            error.code().code(),
            error.message(),
            error.detail().unwrap_or("-"),
            error.hint().unwrap_or("-")
        ),
        (
            "55000",
            "cannot adopt the store in schema message_store: it is not Message DB 1.3's",
            differences.join("\n").as_str(),
            "CREATE EXTENSION message_store adopts a Message DB 1.3 store only as Message DB 1.3 \
             made it. Change the store to that shape, or move it out of schema message_store, \
             and run it again."
        ),
        "{name}"
    );
    assert_eq!(snapshot(&mut admin), before, "{name}: changed");
}

#[test]
fn a_changed_column_type_is_refused() {
    assert_refused(
        "adopt_column_type",
        "ALTER TABLE message_store.messages ALTER COLUMN data TYPE json",
        &["column messages.data is json, not jsonb"],
    );
}

#[test]
fn a_missing_index_is_refused() {
    assert_refused(
        "adopt_missing_index",
        "DROP INDEX message_store.messages_category",
        &["index messages_category (CREATE INDEX messages_category ON message_store.messages \
           USING btree (message_store.category((stream_name)::character varying), global_position, \
           message_store.category(((metadata ->> 'correlationStreamName'::text))::character varying))) \
           is missing"],
    );
}

#[test]
fn an_unknown_table_or_function_is_refused() {
    assert_refused(
        "adopt_unknown",
        "CREATE TABLE message_store.notes (note text);
         CREATE FUNCTION message_store.lower(varchar) RETURNS varchar LANGUAGE sql AS 'SELECT $1';
         CREATE TRIGGER spy BEFORE INSERT ON message_store.messages
           FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();",
        &[
            "function message_store.lower(character varying) (owned by postgres) is not Message DB 1.3's",
            "table message_store.notes (owned by postgres) is not Message DB 1.3's",
            "trigger spy on table message_store.messages (owned by postgres) is not Message DB 1.3's",
        ],
    );
}

#[test]
fn an_object_of_another_role_is_refused() {
    assert_refused(
        "adopt_other_owner",
        &format!("ALTER FUNCTION message_store.category(varchar) OWNER TO {OTHER}"),
        &[&format!(
            "function message_store.category(character varying) is owned by {OTHER}, \
             who is neither the role installing the extension nor a superuser"
        )],
    );
}

#[test]
fn a_missing_function_is_refused() {
    assert_refused(
        "adopt_missing_function",
        "DROP FUNCTION message_store.hash_64(varchar)",
        &["function message_store.hash_64(character varying) is missing"],
    );
}

#[test]
fn another_versions_column_is_refused() {
    // An older shape: a column Message DB 1.3 does not have.
    assert_refused(
        "adopt_other_version",
        "ALTER TABLE message_store.messages ADD COLUMN sequence bigint",
        &["column messages.sequence (bigint) is not Message DB 1.3's"],
    );
}

#[test]
fn every_difference_is_listed_at_once() {
    assert_refused(
        "adopt_many",
        &format!(
            "ALTER TABLE message_store.messages ALTER COLUMN time DROP NOT NULL;
             ALTER TABLE message_store.messages ALTER COLUMN time SET DEFAULT now();
             ALTER TABLE message_store.messages ALTER COLUMN data TYPE json;
             ALTER TABLE message_store.messages ADD COLUMN note text;
             DROP INDEX message_store.messages_stream;
             CREATE UNIQUE INDEX messages_stream ON message_store.messages (stream_name, position DESC);
             DROP FUNCTION message_store.get_last_stream_message(varchar, varchar);
             CREATE FUNCTION message_store.get_last_stream_message(stream_name varchar, message_type varchar DEFAULT NULL)
               RETURNS SETOF message_store.message LANGUAGE sql AS 'SELECT NULL::message_store.message WHERE false';
             DROP FUNCTION message_store.hash_64(varchar);
             DROP VIEW message_store.type_summary;
             ALTER TYPE message_store.message ADD ATTRIBUTE extra text;
             CREATE TABLE message_store.notes (note text);
             ALTER TABLE message_store.notes OWNER TO {OTHER};
             ALTER FUNCTION message_store.id(varchar) OWNER TO {OTHER};"
        ),
        &[
            "column messages.time is nullable, not NOT NULL",
            "column messages.time defaults to now(), not (now() AT TIME ZONE 'utc'::text)",
            "column messages.data is json, not jsonb",
            "column messages.note (text) is not Message DB 1.3's",
            "index messages_stream is CREATE UNIQUE INDEX messages_stream ON message_store.messages \
             USING btree (stream_name, \"position\" DESC), not CREATE UNIQUE INDEX messages_stream \
             ON message_store.messages USING btree (stream_name, \"position\")",
            "type message is (id character varying, stream_name character varying, type character varying, \
             position bigint, global_position bigint, data character varying, metadata character varying, \
             time timestamp without time zone, extra text), not (id character varying, stream_name \
             character varying, type character varying, position bigint, global_position bigint, \
             data character varying, metadata character varying, time timestamp without time zone)",
            "function message_store.get_last_stream_message(character varying, character varying) has \
             arguments (stream_name character varying, message_type character varying DEFAULT \
             NULL::character varying), not (stream_name character varying, type character varying \
             DEFAULT NULL::character varying)",
            "function message_store.hash_64(character varying) is missing",
            "view type_summary is missing",
            &format!("table message_store.notes (owned by {OTHER}) is not Message DB 1.3's"),
            &format!(
                "function message_store.id(character varying) is owned by {OTHER}, \
                 who is neither the role installing the extension nor a superuser"
            ),
        ],
    );
}

/// Without a messages table the schema is no store: the install refuses
/// what the trusted-install guard refuses, as before.
#[test]
fn a_schema_without_a_store_is_not_adopted() {
    roles();
    let db = empty_database("adopt_no_store", None);
    let mut admin = connect(&format!("dbname={db}"));
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA message_store;
             CREATE TABLE message_store.notes (note text);
             ALTER TABLE message_store.notes OWNER TO {OTHER};"
        ))
        .unwrap();
    assert_error(
        admin.batch_execute("CREATE EXTENSION message_store"),
        "42501",
        &format!(
            "schema message_store holds objects of a role that is not a superuser: \
             table message_store.notes (owned by {OTHER})"
        ),
    );
}

// Clients during the adoption.

/// The relation locks a backend holds on the store's objects.
fn relation_locks(c: &mut Client, pid: i32) -> Vec<String> {
    strings(
        c,
        &format!(
            "SELECT c.relname || ' ' || l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE l.pid = {pid} AND l.locktype = 'relation' AND l.granted
               AND c.relnamespace = 'message_store'::regnamespace
             ORDER BY 1"
        ),
    )
}

#[test]
fn clients_keep_working_through_an_adoption() {
    let (db, _) = message_db_database("adopt_clients");
    message_store_role_password();
    let mut writer = connect_as(&db, "message_store", "");
    let mut reader = connect_as(&db, "message_store", "");
    let stream = |c: &mut Client| {
        strings(
            c,
            "SELECT type || ' ' || position FROM get_stream_messages('account-1')",
        )
    };
    // Writers wait a bounded time, so that a lock held against them fails
    // the test rather than hanging it.
    for c in [&mut writer, &mut reader] {
        c.batch_execute("SET lock_timeout = '5s'").unwrap();
    }
    assert_eq!(write(&mut writer, "account-1", "Before"), 0);
    assert_eq!(stream(&mut reader), ["Before 0"]);
    // Message DB's bodies need message_store on the search_path; the
    // extension's do not. A third session tells which ones it runs.
    let mut probe = connect_as(&db, "message_store", "options='-c search_path=pg_catalog'");
    let probe_read = "SELECT count(*) FROM message_store.get_stream_messages('account-1')";
    assert_error(
        probe.query_one(probe_read, &[]),
        "42883",
        "function is_category(character varying) does not exist",
    );

    let mut adopter = connect(&format!("dbname={db}"));
    adopter
        .batch_execute("BEGIN; CREATE EXTENSION message_store")
        .unwrap();
    let pid: i32 = adopter
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    // Until it commits, the adoption holds ShareUpdateExclusive locks on
    // the table and sequence (adding them to the extension), which
    // writers' and readers' locks do not conflict with, and
    // AccessExclusive locks on the six views (replacing them).
    assert_eq!(
        relation_locks(&mut writer, pid),
        [
            "category_type_summary AccessExclusiveLock",
            "category_type_summary ShareUpdateExclusiveLock",
            "messages AccessShareLock",
            "messages ShareUpdateExclusiveLock",
            "messages_global_position_seq ShareUpdateExclusiveLock",
            "stream_summary AccessExclusiveLock",
            "stream_summary ShareUpdateExclusiveLock",
            "stream_type_summary AccessExclusiveLock",
            "stream_type_summary ShareUpdateExclusiveLock",
            "type_category_summary AccessExclusiveLock",
            "type_category_summary ShareUpdateExclusiveLock",
            "type_stream_summary AccessExclusiveLock",
            "type_stream_summary ShareUpdateExclusiveLock",
            "type_summary AccessExclusiveLock",
            "type_summary ShareUpdateExclusiveLock",
        ]
    );
    // Meanwhile Message DB's functions still serve the clients.
    assert_eq!(write(&mut writer, "account-1", "During"), 1);
    assert_eq!(stream(&mut reader), ["Before 0", "During 1"]);
    assert_error(
        probe.query_one(probe_read, &[]),
        "42883",
        "function is_category(character varying) does not exist",
    );
    // A summary view waits for the adoption's commit.
    reader.batch_execute("SET lock_timeout = '200ms'").unwrap();
    assert_error(
        reader.query("SELECT * FROM stream_summary", &[]),
        "55P03",
        "canceling statement due to lock timeout",
    );
    reader.batch_execute("SET lock_timeout = '5s'").unwrap();
    adopter.batch_execute("COMMIT").unwrap();

    // The same sessions, not reconnected, now call the extension's
    // functions.
    assert_eq!(write(&mut writer, "account-1", "After"), 2);
    assert_eq!(
        probe.query_one(probe_read, &[]).unwrap().get::<_, i64>(0),
        3
    );
    assert_eq!(stream(&mut reader), ["Before 0", "During 1", "After 2"]);
    assert_eq!(
        strings(
            &mut reader,
            "SELECT type || ' ' || global_position FROM get_category_messages('account')"
        ),
        ["Before 1", "During 2", "After 3"]
    );
    assert_eq!(
        strings(
            &mut reader,
            "SELECT stream_name || ' ' || message_count FROM stream_summary"
        ),
        ["account-1 3"]
    );
}

// pg_dump and pg_restore.

fn pg_tool(tool: &str) -> Command {
    let mut command = Command::new(format!("/usr/lib/postgresql/15/bin/{tool}"));
    command
        .env("PGHOST", "127.0.0.1")
        .env("PGUSER", "postgres")
        .env("PGPASSWORD", "postgres");
    command
}

#[test]
fn pg_dump_carries_an_adopted_store() {
    let (db, mut c) = fixture_with_messages("adopt_dump");
    c.batch_execute("CREATE EXTENSION message_store").unwrap();
    let messages = messages_as_text(&mut c);
    let position = sequence_position(&mut c);
    let grants_before = grants(&mut c);

    let dump = std::env::temp_dir().join("message_store_adopt_dump_test.dump");
    let status = pg_tool("pg_dump")
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg(&db)
        .status()
        .unwrap();
    assert!(status.success());
    let listing = pg_tool("pg_restore")
        .arg("-f")
        .arg("-")
        .arg(&dump)
        .output()
        .unwrap();
    assert!(listing.status.success());
    let script = String::from_utf8(listing.stdout).unwrap();
    assert!(
        script.contains("CREATE EXTENSION IF NOT EXISTS message_store WITH SCHEMA message_store;"),
        "{script}"
    );
    // The store's rows and the sequence's position, not its definitions.
    assert!(script.contains("COPY message_store.messages ("));
    assert!(!script.contains("CREATE TABLE message_store.messages"));
    assert!(!script.contains("CREATE FUNCTION message_store."));

    let target = empty_database("adopt_dump_target", None);
    let output = pg_tool("pg_restore")
        .args(["--exit-on-error", "-d", &target])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_file(&dump).ok();
    let mut restored = connect(&format!("dbname={target}"));
    assert_eq!(messages_as_text(&mut restored), messages);
    assert_eq!(sequence_position(&mut restored), position);
    // The grants the store had before its adoption are its users': the
    // dump carries them (pg_dump leaves out the ones an extension's script
    // records as its own).
    assert_eq!(grants(&mut restored), grants_before);
    assert!(
        script.contains("GRANT SELECT,INSERT ON TABLE message_store.messages TO message_store;"),
        "{script}"
    );
    assert_eq!(
        strings(
            &mut restored,
            "SELECT extversion::text FROM pg_extension WHERE extname = 'message_store'"
        ),
        [CURRENT_VERSION]
    );
    assert_eq!(
        write(&mut restored, "account-9", "Restored"),
        1,
        "the stream continues"
    );
    assert_eq!(
        restored
            .query_one(
                "SELECT max(global_position) FROM message_store.messages",
                &[]
            )
            .unwrap()
            .get::<_, i64>(0),
        position + 1
    );
}

// The way back.

#[test]
fn a_detached_store_outlives_drop_extension() {
    let (db, mut c) = fixture_with_messages("adopt_detach");
    c.batch_execute("CREATE EXTENSION message_store").unwrap();
    write(&mut c, "account-9", "Adopted");
    let messages = messages_as_text(&mut c);
    let files = storage_files(&mut c);
    let grants_before = grants(&mut c);
    let category_oid: u32 = c
        .query_one(
            "SELECT 'message_store.category(varchar)'::regprocedure::oid",
            &[],
        )
        .unwrap()
        .get(0);

    let mut admin = connect(&format!("dbname={db}"));
    admin
        .batch_execute(&workspace_file("sql/detach.sql"))
        .unwrap();
    admin.batch_execute("DROP EXTENSION message_store").unwrap();

    assert_eq!(messages_as_text(&mut admin), messages);
    assert_eq!(storage_files(&mut admin), files, "no index rebuilt");
    assert!(strings(
        &mut admin,
        "SELECT indexrelid::regclass::text FROM pg_index
         WHERE indrelid = 'message_store.messages'::regclass AND NOT (indisvalid AND indisready)"
    )
    .is_empty());
    // What stays: Message DB's data objects, category() as SQL under its
    // oid, the views; every grant on them as it was.
    assert_eq!(
        strings(
            &mut admin,
            "SELECT p.oid::regprocedure::text || ' ' || l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'message_store'::regnamespace"
        ),
        ["message_store.category(character varying) sql"]
    );
    assert_eq!(
        admin
            .query_one(
                "SELECT 'message_store.category(varchar)'::regprocedure::oid",
                &[]
            )
            .unwrap()
            .get::<_, u32>(0),
        category_oid
    );
    // The retention policies go with the extension.
    let kept: Vec<String> = grants_before
        .into_iter()
        .filter(|line| !line.starts_with("function ") || line.starts_with("function category("))
        .filter(|line| line != "relation retention_policies -")
        .collect();
    assert_eq!(grants(&mut admin), kept);
    // The category index answers as a scan of the table does.
    let read = "SELECT global_position::text FROM message_store.messages
                WHERE message_store.category(stream_name) = 'account' ORDER BY global_position";
    admin
        .batch_execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        .unwrap();
    let plan = strings(&mut admin, &format!("EXPLAIN {read}")).join("\n");
    assert!(
        plan.contains("Index Scan using messages_category"),
        "{plan}"
    );
    let by_index = strings(&mut admin, read);
    admin
        .batch_execute(
            "SET enable_seqscan = on; SET enable_indexscan = off; SET enable_bitmapscan = off",
        )
        .unwrap();
    assert_eq!(strings(&mut admin, read), by_index);
    assert_eq!(by_index.len(), 12);
    // Writes with plain SQL continue the sequence.
    admin
        .batch_execute(
            "INSERT INTO message_store.messages (stream_name, position, type, data)
             VALUES ('account-9', 2, 'Plain', '{}')",
        )
        .unwrap();
    assert_eq!(
        strings(
            &mut admin,
            "SELECT global_position::text FROM message_store.messages WHERE type = 'Plain'"
        ),
        ["34"]
    );
}

// A database owner adopts its own store.

#[test]
fn a_database_owner_adopts_the_store_it_owns() {
    roles();
    let db = empty_database("adopt_trusted", Some(OWNER));
    // The fixture as the database owner runs it: the role message_store
    // is made by a superuser (the owner may not create roles, nor set
    // another role's search_path).
    connect("")
        .batch_execute(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'message_store') THEN
                 CREATE ROLE message_store WITH LOGIN;
               END IF;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END $$",
        )
        .unwrap();
    let fixture = workspace_file(FIXTURE);
    let role_block = fixture
        .find("-- Two databases may be set up at once")
        .unwrap();
    let schema_at = fixture.find("CREATE SCHEMA message_store;").unwrap();
    let search_path_block = fixture
        .find("-- The bodies above name the store's objects without their schema.")
        .unwrap();
    let script = format!(
        "{}{}COMMIT;",
        &fixture[..role_block],
        &fixture[schema_at..search_path_block]
    );
    let mut owner = connect_as(&db, OWNER, "options='-c search_path=message_store,public'");
    owner.batch_execute(&script).unwrap();
    write(&mut owner, "account-1", "Before");
    let messages = messages_as_text(&mut owner);

    owner
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    let superuser: String = owner
        .query_one("SELECT rolname::text FROM pg_roles WHERE oid = 10", &[])
        .unwrap()
        .get(0);
    assert_eq!(messages_as_text(&mut owner), messages);
    // Every object is the bootstrap superuser's now, as in a fresh
    // install by a database owner: nothing its former owner could redefine.
    assert_eq!(
        strings(
            &mut owner,
            "SELECT DISTINCT owner::regrole::text FROM (
               SELECT nspowner AS owner FROM pg_namespace WHERE nspname = 'message_store'
               UNION ALL SELECT relowner FROM pg_class WHERE relnamespace = 'message_store'::regnamespace
               UNION ALL SELECT proowner FROM pg_proc WHERE pronamespace = 'message_store'::regnamespace
               UNION ALL SELECT typowner FROM pg_type WHERE typnamespace = 'message_store'::regnamespace
             ) o"
        ),
        std::slice::from_ref(&superuser)
    );
    // The owner has a fresh install's grants; message_store keeps its own,
    // made by the new owner.
    assert_eq!(
        strings(
            &mut owner,
            "SELECT relacl::text FROM pg_class WHERE oid = 'message_store.messages'::regclass"
        ),
        [format!(
            "{{{superuser}=arwdDxt/{superuser},message_store=ar/{superuser},{OWNER}=a*r*w*d*D*/{superuser}}}"
        )]
    );
    assert_eq!(
        strings(
            &mut owner,
            "SELECT nspacl::text FROM pg_namespace WHERE nspname = 'message_store'"
        ),
        [format!(
            "{{{superuser}=UC/{superuser},message_store=U/{superuser},{OWNER}=U*/{superuser}}}"
        )]
    );
    assert_error(
        owner.batch_execute(
            "CREATE OR REPLACE FUNCTION message_store.category(stream_name varchar) RETURNS varchar
             IMMUTABLE LANGUAGE sql AS $$ SELECT 'x'::varchar $$",
        ),
        "42501",
        "permission denied for schema message_store",
    );
    assert_eq!(write(&mut owner, "account-1", "Adopted"), 1);
    message_store_role_password();
    let mut role = connect_as(
        &db,
        "message_store",
        "options='-c search_path=message_store,public'",
    );
    assert_eq!(write(&mut role, "account-1", "ByTheRole"), 2);
    assert_eq!(
        strings(
            &mut role,
            "SELECT type FROM message_store.get_stream_messages('account-1')"
        ),
        ["Before", "Adopted", "ByTheRole"]
    );
}
