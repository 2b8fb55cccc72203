//! Installing without superuser: the extension is trusted, so a database
//! owner installs it with `CREATE EXTENSION`. What that role and the roles
//! it grants can then do, and what none of them can: own or change an
//! object that runs in another role's session, or put one into the store's
//! schema.

use message_store_pg_tests::*;
use postgres::Client;
use std::sync::Mutex;

const OWNER: &str = "ms_trusted_owner";
const APP: &str = "ms_trusted_app";
const OTHER: &str = "ms_trusted_other";
const OPERATOR: &str = "ms_trusted_operator";

/// A fresh database owned by `OWNER`, which is no superuser and may not
/// create databases or roles; the roles are made once per database name.
fn owned_database(name: &str) -> String {
    // The roles are the cluster's: one test at a time makes them.
    static ROLES: Mutex<()> = Mutex::new(());
    let _roles = ROLES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    connect("")
        .batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN
                 CREATE ROLE {OWNER} LOGIN PASSWORD 'client' NOSUPERUSER NOCREATEDB NOCREATEROLE;
               END IF;
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP}') THEN
                 CREATE ROLE {APP} LOGIN PASSWORD 'client' NOINHERIT;
               END IF;
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OTHER}') THEN
                 CREATE ROLE {OTHER} LOGIN PASSWORD 'client' NOINHERIT;
               END IF;
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OPERATOR}') THEN
                 CREATE ROLE {OPERATOR} LOGIN PASSWORD 'client' NOINHERIT;
               END IF;
             END $$"
        ))
        .unwrap();
    empty_database(name, Some(OWNER))
}

fn bootstrap_superuser(client: &mut Client) -> String {
    strings(client, "SELECT rolname::text FROM pg_roles WHERE oid = 10").remove(0)
}

#[test]
fn a_database_owner_installs_it_and_runs_the_store() {
    let db = owned_database("trusted_install");
    let mut owner = connect_as(&db, OWNER, "");
    owner
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    let superuser = bootstrap_superuser(&mut owner);

    assert_eq!(
        strings(
            &mut owner,
            "SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'message_store'"
        ),
        [OWNER]
    );
    // Every object in the schema, the schema too, is the bootstrap
    // superuser's: nothing the installing role could redefine.
    let owners = strings(
        &mut owner,
        "SELECT DISTINCT owner::regrole::text FROM (
           SELECT nspowner AS owner FROM pg_namespace WHERE nspname = 'message_store'
           UNION ALL SELECT relowner FROM pg_class WHERE relnamespace = 'message_store'::regnamespace
           UNION ALL SELECT proowner FROM pg_proc WHERE pronamespace = 'message_store'::regnamespace
           UNION ALL SELECT typowner FROM pg_type WHERE typnamespace = 'message_store'::regnamespace
         ) o",
    );
    assert_eq!(owners, std::slice::from_ref(&superuser));
    assert_eq!(
        strings(
            &mut owner,
            "SELECT proname::text FROM pg_proc
             WHERE pronamespace = 'message_store'::regnamespace AND prosecdef"
        ),
        Vec::<String>::new(),
        "every function runs with its caller's rights"
    );
    // The installing role's grants: usage of the schema, every privilege
    // on the table but TRIGGER and REFERENCES, all with grant option.
    assert_eq!(
        strings(
            &mut owner,
            "SELECT nspacl::text FROM pg_namespace WHERE nspname = 'message_store'"
        ),
        [format!(
            "{{{superuser}=UC/{superuser},{OWNER}=U*/{superuser}}}"
        )]
    );
    assert_eq!(
        strings(
            &mut owner,
            "SELECT relacl::text FROM pg_class WHERE oid = 'message_store.messages'::regclass"
        ),
        [format!(
            "{{{superuser}=arwdDxt/{superuser},{OWNER}=a*r*w*d*D*/{superuser}}}"
        )]
    );
    assert_eq!(
        strings(
            &mut owner,
            "SELECT proacl::text FROM pg_proc WHERE oid = 'message_store.grant_client_privileges(name)'::regprocedure"
        ),
        [format!("{{{superuser}=X/{superuser},{OWNER}=X*/{superuser}}}")]
    );

    // The owner writes and reads, with every writer and reader.
    assert_eq!(write(&mut owner, "account-1", "Opened"), 0);
    let positions: Vec<i64> = owner
        .query_one(
            "SELECT message_store.write_batch($1::text::jsonb)",
            &[&format!(
                r#"[{{"stream_name": "account-1", "expected_version": 0, "messages": [{{"id": "{}", "type": "Deposited", "data": {{"amount": 5}}}}]}}]"#,
                new_id()
            )],
        )
        .unwrap()
        .get(0);
    assert_eq!(positions, [1]);
    assert_eq!(
        strings(
            &mut owner,
            "SELECT type::text FROM message_store.get_category_messages('account')"
        ),
        ["Opened", "Deposited"]
    );
    assert_eq!(
        strings(
            &mut owner,
            "SELECT stream_name || ' ' || message_count FROM message_store.stream_summary"
        ),
        ["account-1 2"]
    );

    // It grants a client role, which then writes and reads, and may not
    // grant others.
    owner
        .batch_execute(&format!(
            "SELECT message_store.grant_client_privileges('{APP}')"
        ))
        .unwrap();
    let mut app = connect_as(&db, APP, "");
    assert_eq!(write(&mut app, "account-1", "Withdrawn"), 2);
    assert_eq!(
        strings(
            &mut app,
            "SELECT type::text FROM message_store.get_stream_messages('account-1')"
        ),
        ["Opened", "Deposited", "Withdrawn"]
    );
    assert_error(
        app.batch_execute(&format!(
            "SELECT message_store.grant_client_privileges('{OTHER}')"
        )),
        "42501",
        "permission denied for function grant_client_privileges",
    );
    assert_error(
        app.batch_execute("DELETE FROM message_store.messages"),
        "42501",
        "permission denied for table messages",
    );

    // The client role may not remove; the owner may, and gives removal to
    // an operator role, which may not grant it on.
    assert_error(
        app.batch_execute("SELECT message_store.remove_messages('account', NULL, 1000)"),
        "42501",
        "permission denied for function remove_messages",
    );
    owner
        .batch_execute(
            "SELECT message_store.set_retention_policy('account', 'keep_last', 2);
             SELECT message_store.clear_retention_policy('account');",
        )
        .unwrap();
    assert_eq!(
        strings(
            &mut owner,
            "SELECT message_store.remove_messages('account', NULL, 2)::text"
        ),
        ["1"]
    );
    owner
        .batch_execute(&format!(
            "SELECT message_store.grant_operator_privileges('{OPERATOR}')"
        ))
        .unwrap();
    let mut operator = connect_as(&db, OPERATOR, "");
    assert_eq!(
        strings(
            &mut operator,
            "SELECT message_store.remove_messages('account', NULL, 1000)::text"
        ),
        ["1"]
    );
    assert_eq!(
        strings(
            &mut operator,
            "SELECT message_store.redact_stream('account-1')::text"
        ),
        ["1"]
    );
    assert_error(
        operator.batch_execute(&format!(
            "SELECT message_store.grant_operator_privileges('{OTHER}')"
        )),
        "42501",
        "permission denied for function grant_operator_privileges",
    );
    drop(operator);
    assert_eq!(
        strings(
            &mut owner,
            "SELECT position::text || ' ' || (data IS NULL)::text FROM message_store.messages"
        ),
        ["2 true"]
    );

    // A role granted nothing reaches nothing.
    let mut other = connect_as(&db, OTHER, "");
    for sql in [
        format!(
            "SELECT message_store.write_message('{}', 'account-1', 'Stolen', '{{}}')",
            new_id()
        ),
        "SELECT * FROM message_store.get_stream_messages('account-1')".to_string(),
        "SELECT * FROM message_store.messages".to_string(),
        "SELECT * FROM message_store.stream_summary".to_string(),
    ] {
        assert_error(
            other.batch_execute(&sql),
            "42501",
            "permission denied for schema message_store",
        );
    }
    drop(other);

    // Nothing the owner can do puts code into other roles' calls: no new
    // object in the schema, no redefined function, no trigger, no change
    // to the table.
    for (sql, message) in [
        (
            "CREATE FUNCTION message_store.lower(varchar) RETURNS varchar LANGUAGE sql AS 'SELECT $1'",
            "permission denied for schema message_store",
        ),
        (
            "CREATE OPERATOR message_store.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = texteq)",
            "permission denied for schema message_store",
        ),
        (
            "CREATE OR REPLACE FUNCTION message_store.category(stream_name varchar) RETURNS varchar
             IMMUTABLE LANGUAGE sql AS $$ SELECT 'x'::varchar $$",
            "permission denied for schema message_store",
        ),
        (
            "CREATE FUNCTION public.spy() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
             CREATE TRIGGER spy BEFORE INSERT ON message_store.messages
             FOR EACH ROW EXECUTE FUNCTION public.spy()",
            "permission denied for table messages",
        ),
        (
            "ALTER TABLE message_store.messages ADD COLUMN note text",
            "must be owner of table messages",
        ),
        (
            "ALTER FUNCTION message_store.write_message(varchar, varchar, varchar, jsonb, jsonb, bigint) SECURITY DEFINER",
            "must be owner of function message_store.write_message",
        ),
    ] {
        let mut tx = owner.transaction().unwrap();
        assert_error(tx.batch_execute(sql), "42501", message);
        tx.rollback().unwrap();
    }

    // The owner may drop the store. The schema stays (Postgres never makes
    // an extension's own schema one of its members), empty and the
    // superuser's, and takes the store again.
    owner.batch_execute("DROP EXTENSION message_store").unwrap();
    assert_eq!(
        strings(
            &mut owner,
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'message_store'"
        ),
        [superuser]
    );
    owner
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    assert_eq!(write(&mut owner, "account-1", "Opened"), 0);
}

/// A schema made beforehand by the installing role: refused while it
/// holds that role's objects (which could capture other sessions' name
/// lookups); taken over, with its grants taken back, once it is empty.
#[test]
fn a_schema_made_beforehand_is_refused_while_it_holds_objects() {
    let db = owned_database("trusted_schema_beforehand");
    let mut owner = connect_as(&db, OWNER, "");
    owner
        .batch_execute(&format!(
            "CREATE SCHEMA message_store;
             GRANT CREATE, USAGE ON SCHEMA message_store TO PUBLIC;
             GRANT USAGE ON SCHEMA message_store TO {APP};
             CREATE FUNCTION message_store.lower(varchar) RETURNS varchar LANGUAGE sql AS 'SELECT $1';
             CREATE TABLE message_store.notes (note text);"
        ))
        .unwrap();
    assert_error(
        owner.batch_execute("CREATE EXTENSION message_store"),
        "42501",
        &format!(
            "schema message_store holds objects of a role that is not a superuser: \
             function message_store.lower(character varying) (owned by {OWNER}), \
             table message_store.notes (owned by {OWNER})"
        ),
    );
    assert_eq!(
        strings(
            &mut owner,
            "SELECT extname::text FROM pg_extension WHERE extname = 'message_store'"
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        strings(
            &mut owner,
            "SELECT proname::text FROM pg_proc WHERE pronamespace = 'message_store'::regnamespace"
        ),
        ["lower"],
        "the refused install changed nothing"
    );

    owner
        .batch_execute("DROP FUNCTION message_store.lower(varchar); DROP TABLE message_store.notes")
        .unwrap();
    owner
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    let superuser = bootstrap_superuser(&mut owner);
    assert_eq!(
        strings(
            &mut owner,
            "SELECT nspowner::regrole::text || ' ' || nspacl::text FROM pg_namespace WHERE nspname = 'message_store'"
        ),
        [format!(
            "{superuser} {{{superuser}=UC/{superuser},{OWNER}=U*/{superuser}}}"
        )]
    );
    assert_error(
        connect_as(&db, OTHER, "").batch_execute("CREATE TABLE message_store.planted (x int)"),
        "42501",
        "permission denied for schema message_store",
    );
    assert_eq!(write(&mut owner, "account-1", "Opened"), 0);
}

/// Installed by the database owner at the oldest release and updated by
/// it: the catalog, owners and grants included, is a fresh install's.
#[test]
fn updating_an_install_of_the_oldest_release_gives_a_fresh_install() {
    let fresh_db = owned_database("trusted_fresh");
    let mut fresh = connect_as(&fresh_db, OWNER, "");
    fresh
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    let expected = extension_catalog(&mut fresh);
    assert!(expected.contains(&format!(
        "extension: message_store owner={OWNER} schema=message_store relocatable=false version={CURRENT_VERSION}"
    )));

    let oldest = released_versions().remove(0);
    let db = owned_database("trusted_update");
    let mut owner = connect_as(&db, OWNER, "");
    owner
        .batch_execute(&format!(
            "CREATE EXTENSION message_store VERSION '{oldest}'"
        ))
        .unwrap();
    // That release's script grants the installing role nothing: the
    // update does.
    assert_error(
        owner.query_one("SELECT message_store.stream_version('account-1')", &[]),
        "42501",
        "permission denied for table messages",
    );
    owner
        .batch_execute("ALTER EXTENSION message_store UPDATE")
        .unwrap();
    let actual = extension_catalog(&mut owner);
    let missing: Vec<&String> = expected.iter().filter(|l| !actual.contains(l)).collect();
    let extra: Vec<&String> = actual.iter().filter(|l| !expected.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "from {oldest}: missing {missing:#?}\nextra {extra:#?}"
    );
    assert_eq!(write(&mut owner, "account-1", "Opened"), 0);
}
