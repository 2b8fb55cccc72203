//! The README's recipe for running the retention policies on a schedule
//! with pg_cron (Debian's `postgresql-15-cron`, preloaded in a throwaway
//! cluster): an operator role, given `grant_operator_privileges` and
//! pg_cron's schema, schedules `apply_retention_policies()` every minute,
//! and pg_cron runs it as that role; the same job scheduled by a client
//! role fails on the function's privilege and removes nothing.

use std::time::{Duration, Instant};

use message_store_pg_tests::*;
use postgres::Client;

/// The finished runs of a job: `(status, return_message)`.
fn runs(admin: &mut Client, job_name: &str) -> Vec<(String, String)> {
    admin
        .query(
            "SELECT d.status, d.return_message FROM cron.job_run_details d
             JOIN cron.job j ON j.jobid = d.jobid
             WHERE j.jobname = $1 AND d.status IN ('succeeded', 'failed')
             ORDER BY d.runid",
            &[&job_name],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

fn stored(client: &mut Client) -> Vec<String> {
    strings(
        client,
        "SELECT stream_name || '/' || position FROM message_store.messages
         ORDER BY global_position",
    )
}

#[test]
fn pg_cron_applies_the_policies_as_the_operator_role() {
    let cluster = ThrowawayCluster::start(
        "retention-cron",
        &[
            "shared_preload_libraries=pg_cron",
            "cron.database_name=postgres",
            // Jobs run in background workers, not over a login of their
            // own, so the cluster's authentication does not matter.
            "cron.use_background_workers=on",
            "max_worker_processes=16",
        ],
    );
    let mut admin = cluster.connect("postgres");
    admin
        .batch_execute(
            "CREATE EXTENSION message_store;
             CREATE EXTENSION pg_cron;
             CREATE ROLE ms_ops LOGIN;
             SELECT message_store.grant_operator_privileges('ms_ops');
             GRANT USAGE ON SCHEMA cron TO ms_ops;
             CREATE ROLE ms_app LOGIN;
             SELECT message_store.grant_client_privileges('ms_app');
             GRANT USAGE ON SCHEMA cron TO ms_app;",
        )
        .unwrap();
    let mut app = cluster.connect_as("postgres", "ms_app");
    for stream in [
        "cmd-1", "cmd-2", "cmd-1", "evt-1", "cmd-1", "cmd-2", "evt-1",
    ] {
        write(&mut app, stream, "T");
    }
    let mut ops = cluster.connect_as("postgres", "ms_ops");
    ops.batch_execute(
        "SELECT message_store.set_retention_policy('cmd', 'keep_last', 1);
         SELECT cron.schedule('message_store_retention', '* * * * *',
                              'SELECT message_store.apply_retention_policies()');",
    )
    .unwrap();
    // The same job, scheduled by the client role, runs as the client.
    app.batch_execute(
        "SELECT cron.schedule('client_retention', '* * * * *',
                              'SELECT message_store.apply_retention_policies()')",
    )
    .unwrap();
    let usernames = strings(
        &mut admin,
        "SELECT jobname || ' ' || username FROM cron.job ORDER BY jobname",
    );
    assert_eq!(
        usernames,
        ["client_retention ms_app", "message_store_retention ms_ops"]
    );

    // pg_cron starts jobs at the top of each minute.
    let deadline = Instant::now() + Duration::from_secs(130);
    while runs(&mut admin, "message_store_retention").is_empty()
        || runs(&mut admin, "client_retention").is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "no finished run of both jobs: {:?} {:?}\n{}",
            runs(&mut admin, "message_store_retention"),
            runs(&mut admin, "client_retention"),
            cluster.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        runs(&mut admin, "message_store_retention")[0],
        ("succeeded".to_string(), "SELECT 1".to_string())
    );
    let (status, message) = runs(&mut admin, "client_retention").remove(0);
    assert_eq!(status, "failed");
    assert!(
        message.contains("permission denied for function apply_retention_policies"),
        "{message}"
    );
    // The operator's run took cmd-1 and cmd-2 down to their last message;
    // evt has no policy.
    assert_eq!(
        stored(&mut admin),
        ["evt-1/0", "cmd-1/2", "cmd-2/1", "evt-1/1"]
    );
}
