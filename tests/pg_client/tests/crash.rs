//! Crash recovery: writers on a cluster of the test's own, killed with
//! SIGKILL mid-burst; after the restart every acknowledged write is there,
//! no row is torn or half a transaction, positions have no gaps, the
//! global-position sequence continues above every row, and the extension's
//! readers agree with the table.
//!
//! The cluster is made with Debian's `initdb` (data checksums on) in a
//! directory under the system's temp dir, on a free local port, and torn
//! down at the end, even when the test fails. As root, its programs run as
//! the `postgres` OS user (Postgres refuses root). `CREATE EXTENSION
//! message_store` works in it because `tests/install.sh` installed the
//! extension into that Postgres installation's directories.
//!
//! Two crashes: first only the postmaster is killed (its backends notice
//! and exit on their own, finishing, or not, the statement they run), then
//! the postmaster and every backend at once. Each kill finds a transaction
//! held open with writes done. Acknowledging a transaction's writes before
//! its COMMIT returned, or running the server with `synchronous_commit=off`,
//! makes the test fail.
//!
//! `MESSAGE_STORE_CRASH_KEEP=1` keeps the cluster's directory (data and the
//! server's logs) after the run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use serde_json::{json, Value};

const BIN: &str = "/usr/lib/postgresql/15/bin";
const AUTOCOMMIT_WRITERS: usize = 4;
const TRANSACTION_WRITERS: usize = 2;
/// How long the writers write before the kill, once every one has had a
/// write acknowledged.
const BURST: Duration = Duration::from_millis(1500);
/// The bound on every wait: for the cluster to start, for its processes to
/// exit, for the writers to notice the crash.
const PATIENCE: Duration = Duration::from_secs(30);
const CATEGORIES: [&str; 4] = ["crashA", "crashB", "crashC", "crashD"];
const STREAMS_PER_CATEGORY: u64 = 4;
static NEXT_TRANSACTION: AtomicU64 = AtomicU64::new(0);

/// One write as its writer sent it, and its position once acknowledged:
/// when `write_message` returned in autocommit, or when COMMIT returned
/// for a write in an explicit transaction.
#[derive(Clone, Debug)]
struct Attempt {
    id: String,
    stream: String,
    message_type: &'static str,
    data: Value,
    metadata: Option<Value>,
    /// The explicit transaction it was written in, if any.
    transaction: Option<u64>,
    /// In a transaction: the position `write_message` returned, before COMMIT.
    returned: Option<i64>,
    commit_sent: bool,
    acknowledged: Option<i64>,
}

impl Attempt {
    fn new(stream: &str, message_type: &'static str, data: Value, metadata: Option<Value>) -> Self {
        Attempt {
            id: uuid::Uuid::new_v4().to_string(),
            stream: stream.to_string(),
            message_type,
            data,
            metadata,
            transaction: None,
            returned: None,
            commit_sent: false,
            acknowledged: None,
        }
    }

    /// Sends the write; returns its position.
    fn send(&self, client: &mut Client) -> Result<i64, postgres::Error> {
        let row = client.query_one(
            "SELECT message_store.write_message($1, $2, $3, $4, $5)",
            &[
                &self.id,
                &self.stream,
                &self.message_type,
                &self.data,
                &self.metadata,
            ],
        )?;
        Ok(row.get(0))
    }
}

/// The OS user the cluster's programs run as: `postgres` when the test runs
/// as root, otherwise the test's own user.
#[derive(Clone, Copy)]
struct RunAs(Option<(u32, u32)>);

impl RunAs {
    fn detect() -> RunAs {
        let euid = fs::metadata("/proc/self").unwrap().uid();
        if euid != 0 {
            return RunAs(None);
        }
        let passwd = fs::read_to_string("/etc/passwd").unwrap();
        let line = passwd
            .lines()
            .find(|line| line.starts_with("postgres:"))
            .expect("the test runs as root and there is no postgres OS user to run Postgres as");
        let fields: Vec<&str> = line.split(':').collect();
        RunAs(Some((
            fields[2].parse().unwrap(),
            fields[3].parse().unwrap(),
        )))
    }

    fn command(self, program: &str) -> Command {
        let mut command = Command::new(Path::new(BIN).join(program));
        if let Some((uid, gid)) = self.0 {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn chown(self, path: &Path) {
        if let Some((uid, gid)) = self.0 {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
        }
    }
}

/// A throwaway cluster; dropping it kills every process of it and removes
/// its files.
struct Cluster {
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    run_as: RunAs,
    postmaster: Option<Child>,
    starts: usize,
}

impl Cluster {
    fn create() -> Cluster {
        let run_as = RunAs::detect();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "message_store_crash_{}_{nanos}",
            std::process::id()
        ));
        fs::create_dir(&dir).unwrap();
        let dir = dir.canonicalize().unwrap();
        run_as.chown(&dir);
        let data = dir.join("data");
        let cluster = Cluster {
            port: free_port(),
            dir,
            data,
            run_as,
            postmaster: None,
            starts: 0,
        };
        let output = run_as
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
            .args(["--no-locale", "--data-checksums", "--pgdata"])
            .arg(&cluster.data)
            .current_dir(&cluster.dir)
            .output()
            .expect("initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster
    }

    fn log_path(&self, start: usize) -> PathBuf {
        self.dir.join(format!("postgres-{start}.log"))
    }

    /// Starts the postmaster (a child of the test, so the test reaps it
    /// when it is killed) and waits until it takes connections. Returns the
    /// start's log path.
    fn start(&mut self) -> PathBuf {
        self.starts += 1;
        let log_path = self.log_path(self.starts);
        let log = fs::File::create(&log_path).unwrap();
        let child = self
            .run_as
            .command("postgres")
            .arg("-D")
            .arg(&self.data)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg("listen_addresses=127.0.0.1")
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            // The defaults, said out loud: a commit is acknowledged once
            // its WAL is flushed.
            .args(["-c", "fsync=on", "-c", "synchronous_commit=on"])
            .args(["-c", "full_page_writes=on", "-c", "max_connections=30"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("postgres");
        self.postmaster = Some(child);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if Client::connect(&self.connection_string(), NoTls).is_ok() {
                return log_path;
            }
            if let Some(status) = self.postmaster.as_mut().unwrap().try_wait().unwrap() {
                self.postmaster = None;
                panic!(
                    "postgres exited ({status}) before taking connections:\n{}",
                    fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "postgres took no connection within {PATIENCE:?}:\n{}",
                fs::read_to_string(&log_path).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn connection_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5",
            self.port
        )
    }

    fn connect(&self) -> Client {
        Client::connect(&self.connection_string(), NoTls).unwrap()
    }

    /// The postmaster's pid, from the first line of `postmaster.pid`.
    fn postmaster_pid(&self) -> u32 {
        let text = fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        text.lines().next().unwrap().trim().parse().unwrap()
    }

    /// Every live process of this cluster: Postgres' processes all work in
    /// the data directory. (A zombie has no working directory and holds
    /// nothing of the cluster.)
    fn processes(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd == self.data) {
                pids.push(pid);
            }
        }
        pids
    }

    /// SIGKILL to these pids.
    fn kill(pids: &[u32]) {
        if pids.is_empty() {
            return;
        }
        // A backend may exit on its own between the listing and the kill,
        // so `kill`'s exit status is not judged.
        Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status()
            .unwrap();
    }

    /// Reaps the killed postmaster, then waits until no process of the
    /// cluster is left, within the bound.
    fn wait_until_gone(&mut self) {
        if let Some(mut child) = self.postmaster.take() {
            child.wait().unwrap();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = self.processes();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "processes of the killed cluster still run after {PATIENCE:?}: {left:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        Cluster::kill(&self.processes());
        if let Some(mut child) = self.postmaster.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + PATIENCE;
        while !self.processes().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        if std::env::var_os("MESSAGE_STORE_CRASH_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A small xorshift generator: the writers' choices need no quality.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(uuid::Uuid::new_v4().as_u128() as u64 | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Data of every size the table stores differently: inline, compressed
/// and out of line (TOAST, random text does not compress).
fn payload(rng: &mut Rng, writer: usize, i: u64) -> (Value, Option<Value>) {
    let length = match rng.below(20) {
        0 => 3000 + rng.below(9000),
        1 => 2500,
        _ => rng.below(200),
    };
    let text: String = if length == 2500 {
        "z".repeat(2500)
    } else {
        (0..length)
            .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
            .collect()
    };
    let data = json!({"writer": writer, "i": i, "text": text, "n": [i, -1.5, null, true]});
    let metadata = (rng.below(3) == 0)
        .then(|| json!({"correlationStreamName": format!("other-{}", rng.below(5)), "i": i}));
    (data, metadata)
}

fn random_stream(rng: &mut Rng) -> String {
    let category = CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize];
    format!("{category}-{}", rng.below(STREAMS_PER_CATEGORY))
}

/// What a writer did, and the error that stopped it.
struct Outcome {
    attempts: Vec<Attempt>,
    error: String,
    error_before_kill: bool,
}

struct Shared {
    acknowledged: AtomicUsize,
    /// Set when the test wants a transaction held open for the kill.
    hold: AtomicBool,
    /// Transactions held open, their writes done.
    held: AtomicUsize,
    /// Set once the killed cluster is gone: held transactions go on.
    released: AtomicBool,
    /// Writers with at least one acknowledged write.
    started: AtomicUsize,
    killed: AtomicBool,
}

/// Writes until the connection fails. A transaction writer writes 2 to 5
/// messages to one stream between BEGIN and COMMIT (one stream, so one
/// category's lock: no deadlock between transactions).
fn writer(
    connection_string: String,
    writer: usize,
    transactions: bool,
    shared: Arc<Shared>,
) -> Outcome {
    let mut rng = Rng::new();
    let mut attempts = Vec::new();
    let mut client = Client::connect(&connection_string, NoTls).unwrap();
    let mut started = false;
    let mut i = 0;
    let error = loop {
        let result = if transactions {
            transaction(
                &mut client,
                &mut rng,
                writer,
                &mut i,
                &mut attempts,
                &shared,
            )
        } else {
            let (data, metadata) = payload(&mut rng, writer, i);
            let attempt = Attempt::new(&random_stream(&mut rng), "Autocommitted", data, metadata);
            i += 1;
            attempts.push(attempt.clone());
            attempt.send(&mut client).map(|position| {
                attempts.last_mut().unwrap().acknowledged = Some(position);
                1
            })
        };
        match result {
            Ok(n) => {
                shared.acknowledged.fetch_add(n, Ordering::SeqCst);
                if !started {
                    started = true;
                    shared.started.fetch_add(1, Ordering::SeqCst);
                }
            }
            Err(e) => break e,
        }
    };
    Outcome {
        attempts,
        error: error.to_string(),
        error_before_kill: !shared.killed.load(Ordering::SeqCst),
    }
}

/// One explicit transaction; its writes are acknowledged when COMMIT
/// returns. Returns how many it wrote.
fn transaction(
    client: &mut Client,
    rng: &mut Rng,
    writer: usize,
    i: &mut u64,
    attempts: &mut Vec<Attempt>,
    shared: &Shared,
) -> Result<usize, postgres::Error> {
    let stream = random_stream(rng);
    let count = 2 + rng.below(4) as usize;
    let id = NEXT_TRANSACTION.fetch_add(1, Ordering::SeqCst);
    let first = attempts.len();
    client.batch_execute("BEGIN")?;
    for k in 0..count {
        let (data, metadata) = payload(rng, writer, *i);
        *i += 1;
        let mut attempt = Attempt::new(&stream, "Transacted", data, metadata);
        attempt.transaction = Some(id);
        attempts.push(attempt.clone());
        let position = attempt.send(client)?;
        attempts.last_mut().unwrap().returned = Some(position);
        if k + 1 < count && shared.hold.load(Ordering::SeqCst) {
            // The test asked for an open transaction to kill: this one,
            // with writes done and one to go, waits until the cluster is
            // gone.
            shared.held.fetch_add(1, Ordering::SeqCst);
            let deadline = Instant::now() + PATIENCE;
            while !shared.released.load(Ordering::SeqCst) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
    for attempt in &mut attempts[first..] {
        attempt.commit_sent = true;
    }
    client.batch_execute("COMMIT")?;
    for attempt in &mut attempts[first..] {
        attempt.acknowledged = attempt.returned;
    }
    Ok(count)
}

/// Runs the writers, kills the cluster mid-burst (`everything`: every
/// process of it, else only the postmaster), and returns every attempt.
fn burst_and_kill(cluster: &mut Cluster, everything: bool) -> Vec<Attempt> {
    let shared = Arc::new(Shared {
        acknowledged: AtomicUsize::new(0),
        hold: AtomicBool::new(false),
        held: AtomicUsize::new(0),
        released: AtomicBool::new(false),
        started: AtomicUsize::new(0),
        killed: AtomicBool::new(false),
    });
    let writers: Vec<JoinHandle<Outcome>> = (0..AUTOCOMMIT_WRITERS + TRANSACTION_WRITERS)
        .map(|w| {
            let connection_string = cluster.connection_string();
            let shared = shared.clone();
            thread::spawn(move || writer(connection_string, w, w >= AUTOCOMMIT_WRITERS, shared))
        })
        .collect();
    let deadline = Instant::now() + PATIENCE;
    while shared.started.load(Ordering::SeqCst) < writers.len() {
        assert!(
            Instant::now() < deadline && !writers.iter().any(|w| w.is_finished()),
            "not every writer got a write acknowledged"
        );
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(BURST);
    // The kill lands while a transaction is open with writes done.
    shared.hold.store(true, Ordering::SeqCst);
    while shared.held.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline + BURST,
            "no transaction was held open"
        );
        thread::sleep(Duration::from_millis(1));
    }
    assert!(
        !writers.iter().any(|w| w.is_finished()),
        "a writer stopped before the kill"
    );

    let pid = cluster.postmaster_pid();
    assert_eq!(pid, cluster.postmaster.as_ref().unwrap().id());
    shared.killed.store(true, Ordering::SeqCst);
    if everything {
        let mut pids = cluster.processes();
        assert!(pids.contains(&pid), "{pid} not among {pids:?}");
        assert!(pids.len() > writers.len(), "backends: {pids:?}");
        pids.sort_by_key(|p| *p != pid);
        Cluster::kill(&pids);
    } else {
        // SIGKILL, at once (no `kill` program to start first).
        cluster.postmaster.as_mut().unwrap().kill().unwrap();
    }
    let acknowledged_at_kill = shared.acknowledged.load(Ordering::SeqCst);
    cluster.wait_until_gone();
    shared.released.store(true, Ordering::SeqCst);

    // Every writer must see its connection fail (not hang).
    let deadline = Instant::now() + PATIENCE;
    while !writers.iter().all(|w| w.is_finished()) {
        assert!(
            Instant::now() < deadline,
            "writers still wait on a dead cluster"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let mut attempts = Vec::new();
    for (w, handle) in writers.into_iter().enumerate() {
        let outcome = handle.join().unwrap();
        assert!(
            !outcome.error_before_kill,
            "writer {w} failed before the kill: {}",
            outcome.error
        );
        attempts.extend(outcome.attempts);
    }
    let acknowledged = attempts.iter().filter(|a| a.acknowledged.is_some()).count();
    let cut: HashSet<_> = attempts
        .iter()
        .filter(|a| a.returned.is_some() && !a.commit_sent)
        .map(|a| a.transaction)
        .collect();
    assert!(!cut.is_empty(), "the kill found no transaction open");
    // A backend may still answer after the postmaster's death.
    assert!(acknowledged >= acknowledged_at_kill);
    assert!(
        attempts
            .iter()
            .any(|a| a.transaction.is_some() && a.acknowledged.is_some()),
        "no transaction was acknowledged"
    );
    eprintln!(
        "crash ({}): {acknowledged} writes acknowledged, {} sent, {} transactions cut",
        if everything {
            "every process"
        } else {
            "the postmaster"
        },
        attempts.len(),
        cut.len()
    );
    attempts
}

/// A stored row, as text and numbers.
#[derive(Debug)]
struct Row {
    global_position: i64,
    position: i64,
    #[allow(dead_code)] // read to show it is there and not NULL
    time: String,
    stream: String,
    message_type: String,
    data: Option<Value>,
    metadata: Option<Value>,
    id: String,
}

fn parse_json(text: Option<String>, what: &str, id: &str) -> Option<Value> {
    text.map(|text| {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what} of {id} is not JSON: {e}"))
    })
}

fn stored_rows(client: &mut Client) -> Vec<Row> {
    client
        .query(
            "SELECT global_position, position, time::text, stream_name, type,
                    data::text, metadata::text, id::text
             FROM message_store.messages ORDER BY global_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let id: String = r.get(7);
            Row {
                global_position: r.get(0),
                position: r.get(1),
                time: r.get(2),
                stream: r.get(3),
                message_type: r.get(4),
                data: parse_json(r.get(5), "data", &id),
                metadata: parse_json(r.get(6), "metadata", &id),
                id,
            }
        })
        .collect()
}

/// Everything the restarted cluster must show, given every write ever sent
/// to it.
fn check(client: &mut Client, attempts: &[Attempt], since: &str) {
    let rows = stored_rows(client);
    let sent: HashMap<&str, &Attempt> = attempts.iter().map(|a| (a.id.as_str(), a)).collect();
    let stored: HashMap<&str, &Row> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    assert_eq!(stored.len(), rows.len(), "an id is stored twice");

    // Every row is one that was sent, complete and as sent.
    for row in &rows {
        let attempt = sent
            .get(row.id.as_str())
            .unwrap_or_else(|| panic!("a row nobody wrote: {row:?}"));
        assert_eq!(
            (
                &row.stream,
                row.message_type.as_str(),
                &row.data,
                &row.metadata
            ),
            (
                &attempt.stream,
                attempt.message_type,
                &Some(attempt.data.clone()),
                &attempt.metadata
            ),
            "row {}",
            row.global_position
        );
    }
    // Every time is one of this test's (written since the cluster was made).
    let odd: Vec<(String, String)> = client
        .query(
            "SELECT id::text, time::text FROM message_store.messages
             WHERE NOT time BETWEEN $1::text::timestamp AND now() AT TIME ZONE 'utc'",
            &[&since],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(odd.is_empty(), "times outside the test's: {odd:?}");

    // Every acknowledged write is there, at the position it was given.
    let mut lost = Vec::new();
    for attempt in attempts {
        if let Some(position) = attempt.acknowledged {
            match stored.get(attempt.id.as_str()) {
                Some(row) => assert_eq!(
                    (row.stream.as_str(), row.position),
                    (attempt.stream.as_str(), position),
                    "{}",
                    attempt.id
                ),
                None => lost.push(format!("{} {} {position}", attempt.id, attempt.stream)),
            }
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged writes are missing after the crash, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );

    // A transaction is there whole or not at all.
    let mut transactions: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for attempt in attempts {
        if let Some(t) = attempt.transaction {
            let entry = transactions.entry(t).or_default();
            entry.0 += 1;
            entry.1 += usize::from(stored.contains_key(attempt.id.as_str()));
        }
    }
    for attempt in attempts {
        assert!(
            attempt.transaction.is_none()
                || attempt.commit_sent
                || !stored.contains_key(attempt.id.as_str()),
            "{} is stored, but its transaction never sent COMMIT",
            attempt.id
        );
    }
    for (t, (written, kept)) in &transactions {
        assert!(
            *kept == 0 || kept == written,
            "transaction {t:?}: {kept} of its {written} messages are stored"
        );
    }

    // Positions of each stream are 0..n in global order, and
    // stream_version and the readers agree with the table.
    let mut streams: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        streams.entry(row.stream.as_str()).or_default().push(row);
    }
    let mut seen = HashSet::new();
    for (stream, rows) in &streams {
        let positions: Vec<i64> = rows.iter().map(|r| r.position).collect();
        assert_eq!(
            positions,
            (0..rows.len() as i64).collect::<Vec<_>>(),
            "{stream}"
        );
        let version: Option<i64> = client
            .query_one("SELECT message_store.stream_version($1)", &[stream])
            .unwrap()
            .get(0);
        assert_eq!(version, Some(rows.len() as i64 - 1), "{stream}");
        let read: Vec<(String, i64, i64)> = client
            .query(
                "SELECT id, position, global_position FROM message_store.get_stream_messages($1, 0, -1)",
                &[stream],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let expected: Vec<(String, i64, i64)> = rows
            .iter()
            .map(|r| (r.id.clone(), r.position, r.global_position))
            .collect();
        assert_eq!(read, expected, "{stream}");
        seen.insert(*stream);
    }
    for category in CATEGORIES {
        let read: i64 = client
            .query_one(
                "SELECT count(*) FROM message_store.get_category_messages($1, 1, -1)",
                &[&category],
            )
            .unwrap()
            .get(0);
        let stored = rows
            .iter()
            .filter(|r| r.stream.starts_with(&format!("{category}-")))
            .count() as i64;
        assert_eq!(read, stored, "{category}");
    }

    // The indexes hold every row and are sound (amcheck).
    client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        .unwrap();
    for index in [
        "messages_pkey",
        "messages_id",
        "messages_stream",
        "messages_category",
    ] {
        client
            .execute(
                &format!("SELECT bt_index_check('message_store.{index}', true)"),
                &[],
            )
            .unwrap_or_else(|e| panic!("{index}: {e}"));
    }
}

/// A new write after the crash gets a global position above every stored
/// one, and the next position of its stream.
fn write_after(client: &mut Client, attempts: &mut Vec<Attempt>) {
    let (max, next): (i64, i64) = {
        let row = client
            .query_one(
                "SELECT (SELECT max(global_position) FROM message_store.messages),
                        (SELECT count(*) FROM message_store.messages WHERE stream_name = 'crashA-0')",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let mut attempt = Attempt::new("crashA-0", "AfterCrash", json!({"after": true}), None);
    let position = attempt.send(client).unwrap();
    assert_eq!(position, next);
    let global: i64 = client
        .query_one(
            "SELECT global_position FROM message_store.messages WHERE id = $1::text::uuid",
            &[&attempt.id],
        )
        .unwrap()
        .get(0);
    assert!(
        global > max,
        "new global position {global}, stored up to {max}"
    );
    attempt.acknowledged = Some(position);
    attempts.push(attempt);
}

#[test]
fn acknowledged_writes_survive_sigkill_of_the_cluster() {
    let mut cluster = Cluster::create();
    cluster.start();
    cluster
        .connect()
        .batch_execute("CREATE EXTENSION message_store")
        .unwrap();
    let since: String = cluster
        .connect()
        .query_one("SELECT (now() AT TIME ZONE 'utc')::text", &[])
        .unwrap()
        .get(0);

    let mut attempts = Vec::new();
    for everything in [false, true] {
        attempts.extend(burst_and_kill(&mut cluster, everything));
        let log = cluster.start();
        let text = fs::read_to_string(&log).unwrap();
        assert!(
            text.contains(
                "database system was not properly shut down; automatic recovery in progress"
            ),
            "the restart did not recover from a crash:\n{text}"
        );
        let mut client = cluster.connect();
        check(&mut client, &attempts, &since);
        write_after(&mut client, &mut attempts);
    }
}
