//! Independent oracles: `hash_64` and consumer-group membership against
//! Message DB's own definitions written in plain SQL (md5 of the cardinal
//! id, its first 16 hex digits as a bigint), on many names, non-ASCII ones
//! among them; nothing expected comes from core.

use message_store_pg_tests::fresh_database;

/// Message DB's definitions: `hash_64(v) = ('x' || left(md5(v), 16))::bit(64)::bigint`;
/// the cardinal id is the id (after the first `-`) up to its first `+`.
const NAMES: &str = "
    WITH names AS (
      SELECT i, 'cat' || (i % 7) || '-' || substr(md5(i::text), 1, 1 + i % 20)
             || CASE i % 5 WHEN 0 THEN '+' || i WHEN 1 THEN 'ü' || chr(945 + i % 20) WHEN 2 THEN '☃' ELSE '' END
             AS name
      FROM generate_series(1, 20000) AS i
    ), expected AS (
      SELECT i, name,
             split_part(substr(name, strpos(name, '-') + 1), '+', 1) AS cardinal_id
      FROM names
    )";

#[test]
fn hash_64_is_message_dbs_md5_expression() {
    let (_, mut client) = fresh_database("oracle_hash_64");
    let row = client
        .query_one(
            &format!(
                "{NAMES}
                 SELECT count(*),
                        count(*) FILTER (WHERE message_store.hash_64(cardinal_id)
                            IS DISTINCT FROM ('x' || left(md5(cardinal_id), 16))::bit(64)::bigint),
                        count(*) FILTER (WHERE message_store.cardinal_id(name) IS DISTINCT FROM cardinal_id),
                        count(DISTINCT cardinal_id) FILTER (WHERE cardinal_id ~ '[^ -~]')
                 FROM expected"
            ),
            &[],
        )
        .unwrap();
    let (total, wrong_hash, wrong_cardinal, non_ascii): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(total, 20000);
    assert_eq!(wrong_hash, 0);
    assert_eq!(wrong_cardinal, 0);
    assert!(non_ascii > 1000, "non-ASCII cardinal ids: {non_ascii}");
}

#[test]
fn consumer_group_membership_is_message_dbs_rule() {
    let (_, mut client) = fresh_database("oracle_groups");
    let row = client
        .query_one(
            &format!(
                "{NAMES}, groups AS (SELECT size, member FROM generate_series(1, 7) AS size,
                                     LATERAL generate_series(0, size - 1) AS member)
                 SELECT count(*),
                        count(*) FILTER (WHERE message_store.is_consumer_group_member(name, member, size)
                            IS DISTINCT FROM
                            (mod(abs(('x' || left(md5(cardinal_id), 16))::bit(64)::bigint), size) = member))
                 FROM expected, groups WHERE i % 10 = 0"
            ),
            &[],
        )
        .unwrap();
    let (total, wrong): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(total, 2000 * 28);
    assert_eq!(wrong, 0);
}

/// Rows a consumer group reads, against the table read with plain SQL and
/// Message DB's rule: every member's rows, and nothing else, in order.
#[test]
fn consumer_group_reads_match_plain_sql() {
    let (_, mut client) = fresh_database("oracle_group_reads");
    client
        .batch_execute(
            "SELECT message_store.write_message(gen_random_uuid()::text,
                        'cat-' || (i % 37) || CASE WHEN i % 3 = 0 THEN '+x' ELSE '' END, 'T', '{}')
             FROM generate_series(1, 400) AS i",
        )
        .unwrap();
    for size in [1i64, 2, 3, 5] {
        for member in 0..size {
            let read: Vec<i64> = client
                .query(
                    "SELECT global_position FROM message_store.get_category_messages('cat', 1, -1, NULL, $1, $2)",
                    &[&member, &size],
                )
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            let plain: Vec<i64> = client
                .query(
                    "SELECT global_position FROM message_store.messages
                     WHERE split_part(stream_name, '-', 1) = 'cat'
                       AND mod(abs(('x' || left(md5(split_part(substr(stream_name, strpos(stream_name, '-') + 1), '+', 1)), 16))::bit(64)::bigint), $2) = $1
                     ORDER BY global_position",
                    &[&member, &size],
                )
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            assert_eq!(read, plain, "member {member} of {size}");
            assert!(size == 1 || read.len() < 400);
        }
    }
}
