//! The Message DB 1.3-shaped fixture (`tests/pg_client/fixtures/message_db_1_3.sql`)
//! that the adoption tests start from: its catalog matches a fresh
//! `CREATE EXTENSION message_store` object for object, apart from the
//! differences listed here with their reasons; it passes the conformance
//! corpus apart from the records listed here; it serialises writers per
//! category; it prints the same debug notices; and its `message_store` role
//! reads and appends but cannot change or remove a message.

use message_store_pg_tests::*;
use message_store_slt::{corpus, run_file};
use postgres::Client;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FIXTURE: &str = "tests/pg_client/fixtures/message_db_1_3.sql";

/// A plain superuser connection (default search_path), for catalog reads:
/// both databases' catalogs are printed under the same search_path.
fn catalog_connection(db: &str) -> Client {
    connect(&format!("dbname={db}"))
}

// The shape: one entry per object, each a set of named fields.

type Shape = BTreeMap<String, BTreeMap<String, String>>;

/// Each query gives an object's key and its fields as a JSON object. The
/// views' columns are compared (the column rows hold every relation's), not
/// their text, nor the functions' language and bodies: those are each
/// implementation's own.
const SHAPE_QUERIES: &[(&str, &str)] = &[
    (
        "schema",
        "SELECT 'schema ' || nspname, json_build_object(
                  'owner', nspowner::regrole::text, 'acl', coalesce(nspacl::text, '-'))::text
         FROM pg_namespace WHERE nspname = 'message_store'",
    ),
    (
        "relation",
        "SELECT 'relation ' || relname, json_build_object(
                  'kind', relkind::text, 'owner', relowner::regrole::text,
                  'acl', coalesce(relacl::text, '-'), 'persistence', relpersistence::text,
                  'options', coalesce(reloptions::text, '-'))::text
         FROM pg_class WHERE relnamespace = 'message_store'::regnamespace",
    ),
    (
        "column",
        // Functions a default calls outside pg_catalog (whose functions are
        // pinned and leave no dependency): gen_random_uuid() must be the
        // core one in both, not pgcrypto's.
        "SELECT 'column ' || c.relname || '.' || a.attname, json_build_object(
                  'number', a.attnum::text, 'type', format_type(a.atttypid, a.atttypmod),
                  'not_null', a.attnotnull::text,
                  'default', coalesce(pg_get_expr(d.adbin, d.adrelid), '-'),
                  'default_calls', coalesce((
                    SELECT string_agg(p.oid::regprocedure::text, ', ')
                    FROM pg_depend x JOIN pg_proc p ON p.oid = x.refobjid
                    WHERE x.classid = 'pg_attrdef'::regclass AND x.objid = d.oid
                      AND x.refclassid = 'pg_proc'::regclass), '-'),
                  'identity', a.attidentity::text, 'generated', a.attgenerated::text,
                  'collation', a.attcollation::regcollation::text, 'storage', a.attstorage::text)::text
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'message_store'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped",
    ),
    (
        "constraint",
        "SELECT 'constraint ' || conname, json_build_object(
                  'relation', conrelid::regclass::text, 'definition', pg_get_constraintdef(oid))::text
         FROM pg_constraint WHERE connamespace = 'message_store'::regnamespace",
    ),
    (
        "index",
        "SELECT 'index ' || indexrelid::regclass::text, json_build_object(
                  'definition', pg_get_indexdef(indexrelid))::text
         FROM pg_index WHERE indrelid = 'message_store.messages'::regclass",
    ),
    (
        "sequence",
        "SELECT 'sequence ' || s.seqrelid::regclass::text, json_build_object(
                  'type', s.seqtypid::regtype::text, 'start', s.seqstart::text,
                  'increment', s.seqincrement::text, 'min', s.seqmin::text, 'max', s.seqmax::text,
                  'cache', s.seqcache::text, 'cycle', s.seqcycle::text,
                  'owned_by', coalesce(pg_get_serial_sequence('message_store.messages', 'global_position'), '-'))::text
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
         WHERE c.relnamespace = 'message_store'::regnamespace",
    ),
    (
        "type",
        "SELECT 'type ' || t.typname, json_build_object(
                  'kind', t.typtype::text, 'owner', t.typowner::regrole::text,
                  'acl', coalesce(t.typacl::text, '-'),
                  'attributes', coalesce((
                    SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                    FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '-'))::text
         FROM pg_type t WHERE t.typnamespace = 'message_store'::regnamespace",
    ),
    (
        "function",
        "SELECT 'function ' || p.proname, json_build_object(
                  'arguments', pg_get_function_arguments(p.oid), 'result', pg_get_function_result(p.oid),
                  'kind', p.prokind::text, 'volatility', p.provolatile::text, 'strict', p.proisstrict::text,
                  'parallel', p.proparallel::text, 'security_definer', p.prosecdef::text,
                  'owner', p.proowner::regrole::text, 'acl', coalesce(p.proacl::text, '-'))::text
         FROM pg_proc p WHERE p.pronamespace = 'message_store'::regnamespace",
    ),
    (
        "extension",
        "SELECT 'extension ' || extname, json_build_object(
                  'schema', extnamespace::regnamespace::text, 'owner', extowner::regrole::text)::text
         FROM pg_extension WHERE extname <> 'plpgsql'",
    ),
];

fn shape(client: &mut Client) -> Shape {
    let mut shape = Shape::new();
    for (kind, sql) in SHAPE_QUERIES {
        for row in client
            .query(*sql, &[])
            .unwrap_or_else(|e| panic!("{kind}: {e:?}"))
        {
            let key: String = row.get(0);
            let json: String = row.get(1);
            let fields: BTreeMap<String, String> = serde_json::from_str(&json).unwrap();
            assert!(shape.insert(key.clone(), fields).is_none(), "{key} twice");
        }
    }
    shape
}

/// One field of one object that differs; `exists` when the object is in
/// one catalog only. `None` is a field or object that is absent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Difference {
    object: String,
    field: String,
    extension: Option<String>,
    fixture: Option<String>,
}

fn differences(extension: &Shape, fixture: &Shape) -> BTreeSet<Difference> {
    let mut found = BTreeSet::new();
    let keys: BTreeSet<&String> = extension.keys().chain(fixture.keys()).collect();
    for key in keys {
        match (extension.get(key), fixture.get(key)) {
            (Some(e), Some(f)) => {
                let fields: BTreeSet<&String> = e.keys().chain(f.keys()).collect();
                for field in fields {
                    if e.get(field) != f.get(field) {
                        found.insert(Difference {
                            object: key.clone(),
                            field: field.clone(),
                            extension: e.get(field).cloned(),
                            fixture: f.get(field).cloned(),
                        });
                    }
                }
            }
            (e, f) => {
                found.insert(Difference {
                    object: key.clone(),
                    field: "exists".into(),
                    extension: e.map(|_| "yes".into()),
                    fixture: f.map(|_| "yes".into()),
                });
            }
        }
    }
    found
}

/// (object, field, the extension's value, the fixture's value, why).
type Allowed = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

/// Every way the fixture's catalog may differ from a fresh install of the
/// extension (whose `grant_client_privileges('message_store')` has given
/// the role Message DB's grants). Nothing else may differ.
const ALLOWED_DIFFERENCES: &[Allowed] = &[
    // The extension's additions to Message DB's API.
    ("function write_messages", "exists", Some("yes"), None, "the extension's batch writer (Message DB has none: contract section 3)"),
    ("function write_batch", "exists", Some("yes"), None, "the extension's batch writer (Message DB has none: contract section 3)"),
    ("function export_messages", "exists", Some("yes"), None, "the extension's export of a store as lines (Message DB has none)"),
    ("function import_messages", "exists", Some("yes"), None, "the extension's import of such lines (Message DB has none)"),
    ("function get_all_messages", "exists", Some("yes"), None, "the extension's reader of every category in global order (Message DB has none)"),
    ("function get_streams", "exists", Some("yes"), None, "the extension's stream listing (Message DB has none)"),
    ("function get_categories", "exists", Some("yes"), None, "the extension's category listing (Message DB has none)"),
    ("function write_position", "exists", Some("yes"), None, "the extension's read-your-writes position (Message DB has none)"),
    ("function wait_for_replay", "exists", Some("yes"), None, "the extension's read-your-writes wait on a standby (Message DB has none)"),
    ("function remove_messages", "exists", Some("yes"), None, "the extension's retention: removing old messages, keeping each stream's last (Message DB has none)"),
    ("function redact_stream", "exists", Some("yes"), None, "the extension's erasure of a stream's data and metadata (Message DB has none)"),
    ("function set_retention_policy", "exists", Some("yes"), None, "the extension's stored retention policies (Message DB has none)"),
    ("function clear_retention_policy", "exists", Some("yes"), None, "the extension's stored retention policies (Message DB has none)"),
    ("function apply_retention_policies", "exists", Some("yes"), None, "the extension's stored retention policies (Message DB has none)"),
    ("function grant_operator_privileges", "exists", Some("yes"), None, "the extension's way to give a role the retention functions"),
    ("relation retention_policies", "exists", Some("yes"), None, "the retention policies table"),
    ("type retention_policies", "exists", Some("yes"), None, "the retention policies table's row type"),
    ("type _retention_policies", "exists", Some("yes"), None, "the array type of the retention policies table's row type"),
    ("column retention_policies.category", "exists", Some("yes"), None, "a column of the retention policies table"),
    ("column retention_policies.kind", "exists", Some("yes"), None, "a column of the retention policies table"),
    ("column retention_policies.amount", "exists", Some("yes"), None, "a column of the retention policies table"),
    ("relation retention_policies_pkey", "exists", Some("yes"), None, "the retention policies table's primary key"),
    ("column retention_policies_pkey.category", "exists", Some("yes"), None, "the retention policies table's primary key"),
    ("constraint retention_policies_pkey", "exists", Some("yes"), None, "the retention policies table's primary key"),
    ("constraint retention_policies_kind_check", "exists", Some("yes"), None, "the retention policies table's check of the kinds"),
    ("constraint retention_policies_amount_check", "exists", Some("yes"), None, "the retention policies table's check of the amounts"),
    ("relation stream_listing", "exists", Some("yes"), None, "get_streams' row type"),
    ("type stream_listing", "exists", Some("yes"), None, "get_streams' row type"),
    ("type _stream_listing", "exists", Some("yes"), None, "the array type of get_streams' row type"),
    ("relation category_listing", "exists", Some("yes"), None, "get_categories' row type"),
    ("type category_listing", "exists", Some("yes"), None, "get_categories' row type"),
    ("type _category_listing", "exists", Some("yes"), None, "the array type of get_categories' row type"),
    ("column stream_listing.stream_name", "exists", Some("yes"), None, "a column of get_streams' row type"),
    ("column stream_listing.version", "exists", Some("yes"), None, "a column of get_streams' row type"),
    ("column stream_listing.last_time", "exists", Some("yes"), None, "a column of get_streams' row type"),
    ("column category_listing.category", "exists", Some("yes"), None, "a column of get_categories' row type"),
    ("column category_listing.head_global_position", "exists", Some("yes"), None, "a column of get_categories' row type"),
    ("function is_consumer_group_member", "exists", Some("yes"), None, "the extension's consumer-group test, the rule get_category_messages applies"),
    ("function grant_client_privileges", "exists", Some("yes"), None, "the extension's way to give a role Message DB's client grants"),
    ("extension message_store", "exists", Some("yes"), None, "the fixture is the database before adoption"),
    ("extension pgcrypto", "exists", None, Some("yes"), "Message DB's installer adds pgcrypto; both id defaults call the core gen_random_uuid() all the same"),
    // Declarations the contract leaves open: the extension declares its C
    // functions STRICT where NULL in gives NULL out, and PARALLEL SAFE where
    // they read nothing; the fixture's PL/pgSQL has the defaults, and gives
    // the same results for NULL arguments.
    ("function category", "strict", Some("true"), Some("false"), "STRICT in the extension; the same NULL result"),
    ("function id", "strict", Some("true"), Some("false"), "STRICT in the extension; the same NULL result"),
    ("function cardinal_id", "strict", Some("true"), Some("false"), "STRICT in the extension; the same NULL result"),
    ("function hash_64", "strict", Some("true"), Some("false"), "STRICT in the extension; the same NULL result"),
    ("function category", "parallel", Some("s"), Some("u"), "PARALLEL SAFE in the extension; not in the contract"),
    ("function id", "parallel", Some("s"), Some("u"), "PARALLEL SAFE in the extension; not in the contract"),
    ("function cardinal_id", "parallel", Some("s"), Some("u"), "PARALLEL SAFE in the extension; not in the contract"),
    ("function is_category", "parallel", Some("s"), Some("u"), "PARALLEL SAFE in the extension; not in the contract"),
    ("function hash_64", "parallel", Some("s"), Some("u"), "PARALLEL SAFE in the extension; not in the contract"),
    ("function message_store_version", "parallel", Some("s"), Some("u"), "PARALLEL SAFE in the extension; not in the contract"),
    ("function message_store_version", "volatility", Some("s"), Some("v"), "STABLE in the extension; the contract marks it neither way, and the fixture keeps the default"),
];

fn allowed() -> BTreeSet<Difference> {
    ALLOWED_DIFFERENCES
        .iter()
        .map(|(object, field, extension, fixture, _why)| Difference {
            object: object.to_string(),
            field: field.to_string(),
            extension: extension.map(str::to_string),
            fixture: fixture.map(str::to_string),
        })
        .collect()
}

#[test]
fn the_fixture_has_the_extensions_shape() {
    // The fixture first: it creates the role the extension's grants name.
    let (fixture_db, _) = message_db_database("mdbfx_shape");
    let (extension_db, mut extension) = fresh_database("mdbfx_shape_extension");
    extension
        .batch_execute("SELECT message_store.grant_client_privileges('message_store')")
        .unwrap();
    let expected = shape(&mut catalog_connection(&extension_db));
    let mut fixture_client = catalog_connection(&fixture_db);
    let got = shape(&mut fixture_client);

    let found = differences(&expected, &got);
    let allowed = allowed();
    let unexpected: Vec<&Difference> = found.difference(&allowed).collect();
    let missing: Vec<&Difference> = allowed.difference(&found).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "differences not listed: {unexpected:#?}\nlisted but not found: {missing:#?}"
    );

    // What both share, spelled out where adoption depends on it.
    let messages = |column: &str| &got[&format!("column messages.{column}")];
    let order: Vec<(i64, &str)> = [
        "global_position",
        "position",
        "time",
        "stream_name",
        "type",
        "data",
        "metadata",
        "id",
    ]
    .iter()
    .map(|c| (messages(c)["number"].parse().unwrap(), *c))
    .collect();
    assert_eq!(
        order,
        [
            (1, "global_position"),
            (2, "position"),
            (3, "time"),
            (4, "stream_name"),
            (5, "type"),
            (6, "data"),
            (7, "metadata"),
            (8, "id")
        ]
    );
    assert_eq!(
        messages("time")["default"],
        "(now() AT TIME ZONE 'utc'::text)"
    );
    assert_eq!(messages("id")["default"], "gen_random_uuid()");
    assert_eq!(messages("id")["default_calls"], "-");
    assert_eq!(
        got["sequence message_store.messages_global_position_seq"]["owned_by"],
        "message_store.messages_global_position_seq"
    );
    assert_eq!(
        got["index message_store.messages_category"]["definition"],
        "CREATE INDEX messages_category ON message_store.messages USING btree (message_store.category((stream_name)::character varying), global_position, message_store.category(((metadata ->> 'correlationStreamName'::text))::character varying))"
    );
    assert_eq!(
        got["type message"]["attributes"],
        "id character varying, stream_name character varying, type character varying, position bigint, global_position bigint, data character varying, metadata character varying, time timestamp without time zone"
    );
    assert_eq!(
        got["relation messages"]["acl"],
        "{postgres=arwdDxt/postgres,message_store=ar/postgres}"
    );
    assert_eq!(
        got["extension pgcrypto"]["schema"], "public",
        "Message DB's installer puts pgcrypto in public"
    );
    let views: Vec<&str> = got
        .iter()
        .filter(|(_, fields)| fields.get("kind").map(String::as_str) == Some("v"))
        .map(|(key, _)| key.strip_prefix("relation ").unwrap())
        .collect();
    assert_eq!(
        views,
        [
            "category_type_summary",
            "stream_summary",
            "stream_type_summary",
            "type_category_summary",
            "type_stream_summary",
            "type_summary"
        ]
    );
    // Every object is the superuser's that ran the script.
    for (key, fields) in &got {
        if let Some(owner) = fields.get("owner") {
            assert_eq!(owner, "postgres", "{key}");
        }
    }
    // The role: LOGIN, and in this database the search_path the bodies need.
    let role: (bool, Option<String>) = {
        let row = fixture_client
            .query_one(
                "SELECT r.rolcanlogin,
                        (SELECT array_to_string(s.setconfig, ',') FROM pg_db_role_setting s
                         WHERE s.setrole = r.oid AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))
                 FROM pg_roles r WHERE r.rolname = 'message_store'",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        role,
        (true, Some("search_path=message_store, public".to_string()))
    );

    // Negative control: the comparison sees a changed default, a renamed
    // argument and a changed index.
    fixture_client
        .batch_execute(
            "ALTER TABLE message_store.messages ALTER COLUMN time SET DEFAULT now();
             DROP FUNCTION message_store.get_last_stream_message(varchar, varchar);
             CREATE FUNCTION message_store.get_last_stream_message(stream_name varchar, message_type varchar DEFAULT NULL)
               RETURNS SETOF message_store.message LANGUAGE sql AS 'SELECT NULL::message_store.message WHERE false';
             GRANT EXECUTE ON FUNCTION message_store.get_last_stream_message(varchar, varchar) TO message_store;
             DROP INDEX message_store.messages_stream;
             CREATE UNIQUE INDEX messages_stream ON message_store.messages (stream_name, position DESC);",
        )
        .unwrap();
    let broken = shape(&mut fixture_client);
    let seen: BTreeSet<(String, String)> = differences(&expected, &broken)
        .difference(&allowed)
        .map(|d| (d.object.clone(), d.field.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("column messages.time", "default"),
            ("function get_last_stream_message", "arguments"),
            ("index message_store.messages_stream", "definition"),
        ]
        .iter()
        .map(|(o, f)| (o.to_string(), f.to_string()))
        .collect()
    );
}

// The conformance corpus against the fixture.

/// Corpus records the fixture is not expected to pass: every record of
/// `file` whose text holds `record`, or the whole file when `whole_file`
/// (its other records read what those wrote).
struct Skip {
    file: &'static str,
    record: &'static str,
    whole_file: bool,
    why: &'static str,
}

const SKIPS: &[Skip] = &[
    Skip {
        file: "01_pure_functions",
        record: "is_consumer_group_member(",
        whole_file: false,
        why: "is_consumer_group_member is the extension's own function, not Message DB's",
    },
    Skip {
        file: "10_sql_condition_escapes",
        record: "statement error 42601 SQL condition must be one boolean expression",
        whole_file: false,
        why: "message_store refuses a condition that is more than one expression; Message DB \
              pastes the condition into its WHERE clause as it is, and so does the fixture",
    },
    Skip {
        file: "11_write_messages",
        record: "write_messages(",
        whole_file: true,
        why: "write_messages is the extension's batch writer; Message DB has none (contract section 3)",
    },
    Skip {
        file: "12_write_batch",
        record: "write_batch(",
        whole_file: true,
        why: "write_batch is the extension's batch writer; Message DB has none (contract section 3)",
    },
    Skip {
        file: "13_export_import",
        record: "import_messages(",
        whole_file: true,
        why: "export_messages and import_messages are the extension's own; Message DB has neither",
    },
    Skip {
        file: "14_get_all_messages",
        record: "get_all_messages(",
        whole_file: true,
        why: "get_all_messages is the extension's own; Message DB has no reader of every category",
    },
    Skip {
        file: "14_listing",
        record: "get_streams(",
        whole_file: true,
        why: "get_streams and get_categories are the extension's own; Message DB has neither",
    },
    Skip {
        file: "15_retention",
        record: "remove_messages(",
        whole_file: true,
        why: "retention and erasure (remove_messages, redact_stream, the retention policies) \
              are the extension's own; Message DB has none (contract section 3, upstream issue #7)",
    },
];

/// A record's block of lines in a corpus file, and its header's line
/// number (as the runner reports it), `None` for a block of comments or a
/// record that is not run on Postgres (`onlyif sqlite`, `skipif postgres`).
struct Block {
    lines: std::ops::Range<usize>,
    header: Option<usize>,
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        let elsewhere = (start..i).any(|n| {
            let line = lines[n];
            (line.starts_with("onlyif ") && !line.starts_with("onlyif postgres "))
                || line.starts_with("skipif postgres ")
        });
        let header = (start..i)
            .find(|&n| {
                let line = lines[n];
                !line.starts_with('#')
                    && !line.starts_with("onlyif ")
                    && !line.starts_with("skipif ")
            })
            .filter(|_| !elsewhere)
            .map(|n| n + 1);
        found.push(Block {
            lines: start..i,
            header,
        });
    }
    found
}

/// The header lines of the records whose text holds `pattern`.
fn records_holding(text: &str, pattern: &str) -> BTreeSet<usize> {
    let lines: Vec<&str> = text.lines().collect();
    blocks(text)
        .into_iter()
        .filter(|block| lines[block.lines.clone()].join("\n").contains(pattern))
        .filter_map(|block| block.header)
        .collect()
}

/// The file without the records whose text holds `pattern`, blanked so
/// that the other records keep their line numbers; and the header lines it
/// blanked.
fn without(text: &str, pattern: &str) -> (String, BTreeSet<usize>) {
    let dropped = records_holding(text, pattern);
    let mut lines: Vec<&str> = text.lines().collect();
    for block in blocks(text) {
        if block.header.is_some_and(|header| dropped.contains(&header)) {
            for line in &mut lines[block.lines] {
                *line = "";
            }
        }
    }
    (lines.join("\n") + "\n", dropped)
}

/// The header lines of the records a run reports as failures.
fn failed_lines(failures: &[String], path: &Path) -> BTreeSet<usize> {
    let prefix = format!("{}:", path.display());
    failures
        .iter()
        .map(|failure| {
            let rest = failure
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("not a failure of {}: {failure}", path.display()));
            rest[..rest.find(' ').unwrap()].parse().unwrap()
        })
        .collect()
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn fixture_engine(name: &str) -> Postgres {
    Postgres(message_db_database(&format!("mdbfx_slt_{name}")).1)
}

#[test]
fn the_corpus_passes_on_the_fixture_but_for_the_extensions_own_records() {
    let files = corpus();
    for skip in SKIPS {
        assert!(
            files.iter().any(|path| stem(path) == skip.file),
            "no corpus file {} ({})",
            skip.file,
            skip.why
        );
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("message_db_fixture_corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    let mut ran = Vec::new();
    for path in &files {
        let name = stem(path);
        let skips: Vec<&Skip> = SKIPS.iter().filter(|s| s.file == name).collect();
        if let Some(skip) = skips.iter().find(|s| s.whole_file) {
            // A whole file skipped: every record that calls what the
            // fixture lacks fails on it.
            let text = std::fs::read_to_string(path).unwrap();
            let calls = records_holding(&text, skip.record);
            let failed = failed_lines(&run_file(&mut fixture_engine(&name), path), path);
            assert!(
                !calls.is_empty() && calls.is_subset(&failed),
                "{name}: records holding {:?} that pass on the fixture: {:?}",
                skip.record,
                calls.difference(&failed).collect::<Vec<_>>()
            );
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let mut filtered = text.clone();
        let mut dropped = BTreeSet::new();
        for skip in &skips {
            let (rest, lines) = without(&filtered, skip.record);
            assert!(
                !lines.is_empty(),
                "{name}: no record holds {:?}",
                skip.record
            );
            filtered = rest;
            dropped.extend(lines);
        }
        if dropped.is_empty() {
            failures.extend(run_file(&mut fixture_engine(&name), path));
        } else {
            let copy = dir.join(path.file_name().unwrap());
            std::fs::write(&copy, &filtered).unwrap();
            failures.extend(run_file(&mut fixture_engine(&name), &copy));
            // The skipped records are exactly those the fixture fails.
            let whole = run_file(&mut fixture_engine(&format!("{name}_whole")), path);
            assert_eq!(
                failed_lines(&whole, path),
                dropped,
                "{name}: the records failing on the fixture are not the skipped ones:\n{}",
                whole.join("\n\n")
            );
        }
        ran.push(name);
    }
    assert!(
        failures.is_empty(),
        "{} corpus failure(s) on the fixture:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(
        ran,
        [
            "01_pure_functions",
            "02_write_message",
            "03_get_stream_messages",
            "04_get_category_messages",
            "05_correlation",
            "06_consumer_groups",
            "07_get_last_stream_message",
            "08_sql_condition",
            "09_views",
            "10_sql_condition_escapes"
        ]
    );
}

/// A condition Message DB lets through: the fixture pastes it into its
/// query, and it reads beyond the stream asked for (the extension refuses
/// it: `10_sql_condition_escapes`).
#[test]
fn a_condition_is_pasted_as_it_is() {
    let (_, mut c) = message_db_database("mdbfx_condition");
    for stream in ["a-1", "a-1", "b-1"] {
        write(&mut c, stream, "T");
    }
    c.batch_execute("SET message_store.sql_condition = on")
        .unwrap();
    let rows = c
        .query(
            "SELECT stream_name FROM get_stream_messages('a-1', 0, 1000, 'true) OR (true') \
             ORDER BY global_position",
            &[],
        )
        .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(names, ["a-1", "a-1", "b-1"]);
}

// Writes, reads and their errors through the extended protocol, as
// clients call them, on the fixture and on the extension alike.

/// The same calls on a connection; each call's rows as text, or its error.
fn client_calls(c: &mut Client) -> Vec<String> {
    let ids = [
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
        "00000000-0000-4000-8000-000000000003",
        "00000000-0000-4000-8000-000000000004",
        "00000000-0000-4000-8000-000000000005",
    ];
    let mut out = Vec::new();
    let mut record = |what: &str, result: Result<Vec<postgres::Row>, postgres::Error>| {
        out.push(match result {
            Ok(rows) => format!(
                "{what}: {}",
                rows.iter()
                    .map(|row| (0..row.len())
                        .map(|i| row.get::<_, Option<String>>(i).unwrap_or("NULL".into()))
                        .collect::<Vec<_>>()
                        .join("|"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Err(e) => {
                let (code, message) = db_error(Err::<(), _>(e));
                format!("{what}: error {code} {message}")
            }
        })
    };
    record(
        "typed casts",
        c.query(
            "SELECT write_message($1::varchar, $2::varchar, $3::varchar, $4::jsonb, $5::jsonb, $6::bigint)::text",
            &[&ids[0], &"account-1", &"Opened", &serde_json::json!({"b": 1, "a": 2}), &None::<serde_json::Value>, &-1i64],
        ),
    );
    record(
        "untyped",
        c.query(
            "SELECT write_message($1, $2, $3, $4)::text",
            &[&ids[1], &"account-1", &"Deposited", &serde_json::json!({})],
        ),
    );
    record(
        "named",
        c.query(
            "SELECT write_message(id => $1, stream_name => $2, \"type\" => 'Opened', data => '{}', \
             metadata => '{\"correlationStreamName\": \"order-7\"}', expected_version => -1)::text",
            &[&ids[2], &"account-2"],
        ),
    );
    record(
        "wrong version",
        c.query(
            "SELECT write_message($1, 'account-1', 'T', '{}', NULL, 0)::text",
            &[&ids[3]],
        ),
    );
    record(
        "qualified in FROM",
        c.query(
            "SELECT p::text FROM message_store.write_message($1, 'order-7', 'Placed', '{}') p",
            &[&ids[4]],
        ),
    );
    record(
        "duplicate id",
        c.query(
            "SELECT write_message($1, 'account-3', 'T', '{}')::text",
            &[&ids[0]],
        ),
    );
    let columns = "id, stream_name, type, position::text, global_position::text, data, metadata";
    for (what, sql) in [
        (
            "stream",
            format!("SELECT {columns} FROM get_stream_messages($1::varchar)"),
        ),
        (
            "stream from 1",
            format!("SELECT {columns} FROM get_stream_messages($1, 1, 1)"),
        ),
        (
            "category",
            format!("SELECT {columns} FROM get_category_messages('account', 2)"),
        ),
        (
            "correlation",
            format!(
                "SELECT {columns} FROM get_category_messages('account', correlation => 'order')"
            ),
        ),
        (
            "group member 0 of 2",
            format!("SELECT {columns} FROM get_category_messages('account', 1, -1, NULL, 0, 2)"),
        ),
        (
            "group member 1 of 2",
            format!("SELECT {columns} FROM get_category_messages('account', 1, -1, NULL, 1, 2)"),
        ),
        (
            "last",
            format!("SELECT {columns} FROM get_last_stream_message($1)"),
        ),
        (
            "last of type",
            format!("SELECT {columns} FROM get_last_stream_message($1, 'Opened')"),
        ),
        (
            "composite column",
            "SELECT ((s.m).id, (s.m).position)::text FROM (SELECT get_stream_messages($1) AS m) s"
                .into(),
        ),
        ("version", "SELECT stream_version($1)::text".into()),
        (
            "category error",
            "SELECT * FROM get_stream_messages('account')".into(),
        ),
        (
            "stream error",
            "SELECT * FROM get_category_messages($1)".into(),
        ),
        (
            "limit error",
            "SELECT * FROM get_stream_messages($1, 0, -2)".into(),
        ),
        (
            "gate",
            "SELECT * FROM get_stream_messages($1, 0, 10, 'true')".into(),
        ),
    ] {
        let result = if sql.contains("$1") {
            c.query(&sql, &[&"account-1"])
        } else {
            c.query(&sql, &[])
        };
        record(what, result);
    }
    out
}

#[test]
fn clients_calls_give_what_the_extension_gives() {
    let (_, mut fixture) = message_db_database("mdbfx_calls");
    let (extension_db, _) = fresh_database("mdbfx_calls_extension");
    let mut extension = connect(&format!(
        "dbname={extension_db} options='-c search_path=message_store,public'"
    ));
    let got = client_calls(&mut fixture);
    assert_eq!(got, client_calls(&mut extension));
    // The values themselves, where the contract states them.
    let expect = [
        "typed casts: 0",
        "untyped: 1",
        "named: 0",
        "wrong version: error P0001 Wrong expected version: 0 (Stream: account-1, Stream Version: 1)",
        "qualified in FROM: 0",
        "duplicate id: error 23505 duplicate key value violates unique constraint \"messages_id\"",
        "stream: 00000000-0000-4000-8000-000000000001|account-1|Opened|0|1|{\"a\": 2, \"b\": 1}|NULL; \
         00000000-0000-4000-8000-000000000002|account-1|Deposited|1|2|{}|NULL",
        "category error: error P0001 Must be a stream name: account",
        "stream error: error P0001 Must be a category: account-1",
        "limit error: error 2201W LIMIT must not be negative",
        "gate: error P0001 Retrieval with SQL condition is not activated",
    ];
    for line in expect {
        assert!(got.iter().any(|g| g == line), "{line}\nnot in {got:#?}");
    }
}

// The category lock.

/// Loads the fixture's text, changed by `edit`, into a fresh database.
fn variant_database(name: &str, edit: impl FnOnce(&str) -> String) -> String {
    let db = empty_database(name, None);
    connect(&format!("dbname={db}"))
        .batch_execute(&edit(&workspace_file(FIXTURE)))
        .unwrap();
    db
}

/// While one transaction has written to `acct-1` and not committed: whether
/// it holds the category's advisory lock (key hash_64('acct')), whether a
/// writer of `acct-2` waits for it, and whether a writer of another
/// category does not.
fn lock_probe(db: &str) -> (bool, bool, bool) {
    let options = "options='-c search_path=message_store,public'";
    let mut a = connect(&format!("dbname={db} {options}"));
    let mut b = connect(&format!("dbname={db} {options}"));
    a.batch_execute("BEGIN").unwrap();
    write(&mut a, "acct-1", "T");
    let a_pid: i32 = a.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let held: bool = b
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = $1
               AND granted AND objsubid = 1
               AND ((classid::bigint << 32) | objid::bigint) = hash_64('acct'))",
            &[&a_pid],
        )
        .unwrap()
        .get(0);
    b.batch_execute("SET lock_timeout = '300ms'").unwrap();
    let same_category = b.query(
        "SELECT write_message($1, 'acct-2', 'T', '{}')",
        &[&new_id()],
    );
    let waited = match same_category {
        Ok(_) => false,
        Err(e) => {
            assert_eq!(
                db_error(Err::<(), _>(e)),
                (
                    "55P03".to_string(),
                    "canceling statement due to lock timeout".to_string()
                )
            );
            true
        }
    };
    let other_category = b
        .query(
            "SELECT write_message($1, 'other-1', 'T', '{}')",
            &[&new_id()],
        )
        .is_ok();
    a.batch_execute("COMMIT").unwrap();
    (held, waited, other_category)
}

#[test]
fn writers_of_one_category_take_turns() {
    let (db, mut c) = message_db_database("mdbfx_lock");
    assert_eq!(lock_probe(&db), (true, true, true));
    // acquire_lock returns the key it locks: the category's hash.
    assert_eq!(
        c.query_one("SELECT acquire_lock('acct-9')", &[])
            .unwrap()
            .get::<_, i64>(0),
        message_store_core::hash_64(b"acct")
    );
    // Negative control: without the lock, the probe sees no turns.
    const LOCK: &str = "  PERFORM acquire_lock(write_message.stream_name);\n";
    let broken = variant_database("mdbfx_lock_broken", |sql| {
        assert_eq!(sql.matches(LOCK).count(), 1, "write_message's lock line");
        sql.replacen(LOCK, "", 1)
    });
    assert_eq!(lock_probe(&broken), (false, false, true));
}

// Debug notices.

/// The notices of a sequence of calls with each debug setting.
fn debug_session(db: &str) -> Vec<String> {
    let (mut c, notices) = connect_keeping_notices(db);
    c.batch_execute("SET search_path = message_store, public")
        .unwrap();
    let mut lines = Vec::new();
    for (setting, sql) in [
        ("debug_write", "SELECT write_message('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'd-1', 'T', '{\"b\":1,\"a\":2}')"),
        ("debug_write", "SELECT write_message('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'd-1', 'T', NULL, '{}', 0)"),
        ("debug_write", "SELECT * FROM get_stream_messages('d-1')"),
        ("debug_get", "SELECT * FROM get_stream_messages('d-1', NULL, 5)"),
        ("debug_get", "SELECT * FROM get_category_messages('d', NULL, NULL, 'x', 0, 1)"),
        ("debug_get", "SELECT * FROM get_last_stream_message('d-1', 'T')"),
        ("debug", "SELECT acquire_lock('d-2')"),
        ("debug", "SELECT * FROM get_last_stream_message('d-1')"),
    ] {
        c.batch_execute(&format!(
            "RESET message_store.debug_write; RESET message_store.debug_get; RESET message_store.debug;
             SET message_store.{setting} = on"
        ))
        .unwrap();
        c.batch_execute(sql).unwrap();
        lines.push(format!("-- {setting}: {sql}"));
        // The generated query is each implementation's own.
        lines.extend(notices.take().into_iter().map(|line| {
            if line.starts_with("Generated Command: ") {
                "Generated Command: …".to_string()
            } else {
                line
            }
        }));
    }
    lines
}

#[test]
fn debug_notices_are_the_extensions() {
    let (fixture_db, _) = message_db_database("mdbfx_debug");
    let (extension_db, _) = fresh_database("mdbfx_debug_extension");
    let got = debug_session(&fixture_db);
    assert_eq!(got, debug_session(&extension_db));
    assert!(
        got.iter().any(|l| l == "_next_position: 1")
            && got.iter().any(|l| l == "» get_last_message"),
        "{got:#?}"
    );
}

// The role.

#[test]
fn the_message_store_role_reads_and_appends_only() {
    let (db, _) = message_db_database("mdbfx_role");
    // The fixture gives the role no password (nor does Message DB); this
    // cluster's TCP logins need one.
    connect("")
        .batch_execute("ALTER ROLE message_store PASSWORD 'client'")
        .unwrap();
    let mut c = connect_as(&db, "message_store", "");
    assert_eq!(
        c.query_one("SHOW search_path", &[])
            .unwrap()
            .get::<_, String>(0),
        "message_store, public"
    );
    assert_eq!(write(&mut c, "account-1", "Opened"), 0);
    assert_eq!(
        c.query_one(
            "SELECT write_message($1, 'account-1', 'Deposited', '{}', NULL, 0)",
            &[&new_id()]
        )
        .unwrap()
        .get::<_, i64>(0),
        1
    );
    let read: Vec<(String, i64)> = c
        .query(
            "SELECT type, position FROM get_category_messages('account')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        read,
        [("Opened".to_string(), 0), ("Deposited".to_string(), 1)]
    );
    assert_eq!(
        c.query_one("SELECT message_count FROM stream_summary", &[])
            .unwrap()
            .get::<_, i64>(0),
        2
    );
    c.query_one("SELECT max(global_position) FROM messages", &[])
        .unwrap();
    let denied = "permission denied for table messages";
    assert_error(
        c.execute("UPDATE messages SET type = 'X'", &[]),
        "42501",
        denied,
    );
    assert_error(c.execute("DELETE FROM messages", &[]), "42501", denied);
    assert_error(c.execute("TRUNCATE messages", &[]), "42501", denied);
    assert_error(
        c.query("SELECT setval('messages_global_position_seq', 1)", &[]),
        "42501",
        "permission denied for sequence messages_global_position_seq",
    );
    assert_error(
        c.execute("CREATE TABLE message_store.t ()", &[]),
        "42501",
        "permission denied for schema message_store",
    );
    assert_eq!(
        c.query_one("SELECT count(*) FROM messages", &[])
            .unwrap()
            .get::<_, i64>(0),
        2
    );
}

/// Message DB's bodies name the store's objects without their schema
/// (contract section 3): a session whose search_path lacks message_store
/// fails even with qualified calls. The extension's work from any
/// search_path; adoption is what fixes this.
#[test]
fn the_fixtures_bodies_need_the_search_path() {
    let (fixture_db, _) = message_db_database("mdbfx_search_path");
    let (extension_db, _) = fresh_database("mdbfx_search_path_extension");
    let mut fixture = catalog_connection(&fixture_db);
    let mut extension = catalog_connection(&extension_db);
    let read = "SELECT count(*) FROM message_store.get_stream_messages('a-1')";
    assert_error(
        fixture.query(read, &[]),
        "42883",
        "function is_category(character varying) does not exist",
    );
    assert_error(
        fixture.query(
            "SELECT message_store.write_message($1, 'a-1', 'T', '{}')",
            &[&new_id()],
        ),
        "42883",
        "function acquire_lock(character varying) does not exist",
    );
    assert_eq!(extension.query_one(read, &[]).unwrap().get::<_, i64>(0), 0);
    // The functions that call nothing of the store's work from anywhere.
    assert_eq!(
        fixture
            .query_one(
                "SELECT message_store.hash_64('123'), message_store.category('a-1')::text",
                &[]
            )
            .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
            .unwrap(),
        (2318431741638412123, "a".to_string())
    );
}
