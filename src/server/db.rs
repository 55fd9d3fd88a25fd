//! The service's database: SQLite (one file, the default: nothing to install) or PostgreSQL
//! (several API nodes and workers on one database) behind one small interface.
//!
//! - One SQL dialect in the code: SQLite's, with `?N` placeholders; for PostgreSQL `?N` becomes
//!   `$N`, and in migrations `BLOB` becomes `BYTEA` and `INTEGER` `BIGINT`.
//! - Values cross as [`Value`] (null, integer, text, bytes) and come back as [`Row`]s.
//! - PostgreSQL is reached through the sync `postgres` client on connection threads of its own
//!   (the client runs a runtime of its own, which must not run on the service's tokio threads):
//!   a call sends its work to a free connection thread and waits for the answer. A connection
//!   that broke (the database restarted) is opened again by the next call.
//! - Versioned migrations: [`MIGRATIONS`], applied in order at start and by
//!   `catchment db migrate`; `schema_migrations` records which ran. Another table is one more
//!   line at the end of the list.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A value passed to or read from the database.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT / INTEGER / BOOLEAN).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (SQLite BLOB, PostgreSQL BYTEA).
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(v as i64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v.into())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}

/// Owned parameters: `params![a, b]`.
#[macro_export]
#[doc(hidden)]
macro_rules! db_params {
    ($($v:expr),* $(,)?) => { [$($crate::server::db::Value::from($v)),*] };
}
pub use crate::db_params as params;

/// A failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite's error.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's error (the server's message, or the connection's).
    #[error("PostgreSQL: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    /// The connection threads are gone (the process is ending).
    #[error("the database connection threads have stopped")]
    Gone,
    /// A value of another type than the code reads, or a schema this build does not know.
    #[error("{0}")]
    Schema(String),
}

/// PostgreSQL's error with the server's message and code, when the server sent one.
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

impl DbError {
    /// Whether the database could not be reached (as opposed to refusing a statement): no
    /// connection, or the server going away (SQLSTATE classes 08, connection exceptions, and
    /// 57, operator intervention: shutting down, starting up).
    pub fn is_connection(&self) -> bool {
        match self {
            DbError::Postgres(e) => {
                e.is_closed()
                    || match e.as_db_error() {
                        None => true,
                        Some(d) => {
                            let code = d.code().code();
                            code.starts_with("08") || code.starts_with("57")
                        }
                    }
            }
            DbError::Gone => true,
            DbError::Sqlite(_) | DbError::Schema(_) => false,
        }
    }
}

/// The result of a database operation.
pub type DbResult<T> = Result<T, DbError>;

/// One row of a result.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> DbResult<&Value> {
        self.0.get(i).ok_or_else(|| DbError::Schema(format!("no column {i} in the result")))
    }
    /// An integer column (NULL refused).
    pub fn int(&self, i: usize) -> DbResult<i64> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            v => Err(DbError::Schema(format!("column {i}: an integer expected, found {v:?}"))),
        }
    }
    /// An integer column or NULL.
    pub fn opt_int(&self, i: usize) -> DbResult<Option<i64>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    /// A text column (NULL refused).
    pub fn text(&self, i: usize) -> DbResult<String> {
        match self.at(i)? {
            Value::Text(v) => Ok(v.clone()),
            v => Err(DbError::Schema(format!("column {i}: text expected, found {v:?}"))),
        }
    }
    /// A text column or NULL.
    pub fn opt_text(&self, i: usize) -> DbResult<Option<String>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    /// A bytes column (NULL refused; text is taken as its bytes).
    pub fn blob(&self, i: usize) -> DbResult<Vec<u8>> {
        match self.at(i)? {
            Value::Blob(v) => Ok(v.clone()),
            Value::Text(v) => Ok(v.as_bytes().to_vec()),
            v => Err(DbError::Schema(format!("column {i}: bytes expected, found {v:?}"))),
        }
    }
}

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (one file).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A connection (or a transaction on one): statements in SQLite's dialect with `?N`
/// placeholders.
pub trait Conn {
    /// Run a statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[Value]) -> DbResult<usize>;
    /// Run a query; its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>>;
    /// Run statements separated by `;` without parameters.
    fn batch(&mut self, sql: &str) -> DbResult<()>;
    /// The database behind the connection.
    fn dialect(&self) -> Dialect;
    /// The first row of a query, if any.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> DbResult<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
    /// The one row of a query.
    fn query_one(&mut self, sql: &str, params: &[Value]) -> DbResult<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DbError::Schema("a query that returns a row returned none".into()))
    }
}

// --- SQLite -------------------------------------------------------------------------------

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

/// A SQLite connection (or transaction, which derefs to one).
pub struct Sqlite<'a>(pub &'a rusqlite::Connection);

impl Conn for Sqlite<'_> {
    fn exec(&mut self, sql: &str, params: &[Value]) -> DbResult<usize> {
        Ok(self.0.execute(sql, rusqlite::params_from_iter(params.iter()))?)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        let mut st = self.0.prepare(sql)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                use rusqlite::types::ValueRef;
                row.push(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Int(v as i64),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }
    fn batch(&mut self, sql: &str) -> DbResult<()> {
        Ok(self.0.execute_batch(sql)?)
    }
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

// --- PostgreSQL ---------------------------------------------------------------------------

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Blob(v) => v.to_sql(ty, out),
        }
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

/// `?N` placeholders as PostgreSQL's `$N`.
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A migration's SQL for PostgreSQL: placeholders and the two type names that differ.
fn pg_ddl(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(match word.as_str() {
            "BLOB" => "BYTEA",
            "INTEGER" => "BIGINT",
            w => w,
        });
        word.clear();
    };
    for c in sql.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    pg_placeholders(&out)
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

fn pg_rows(rows: Vec<postgres::Row>) -> DbResult<Vec<Row>> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut row = Vec::with_capacity(r.len());
        for (i, col) in r.columns().iter().enumerate() {
            let t = col.type_();
            let v = if *t == Type::INT8 {
                r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
            } else if *t == Type::INT4 {
                r.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into()))
            } else if *t == Type::INT2 {
                r.try_get::<_, Option<i16>>(i)?.map(|v| Value::Int(v.into()))
            } else if *t == Type::BOOL {
                r.try_get::<_, Option<bool>>(i)?.map(|v| Value::Int(v.into()))
            } else if *t == Type::BYTEA {
                r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
            } else if *t == Type::TEXT || *t == Type::VARCHAR || *t == Type::NAME {
                r.try_get::<_, Option<String>>(i)?.map(Value::Text)
            } else {
                return Err(DbError::Schema(format!("column {}: type {t} not read", col.name())));
            };
            row.push(v.unwrap_or(Value::Null));
        }
        out.push(Row(row));
    }
    Ok(out)
}

/// A PostgreSQL client or transaction.
pub struct Pg<'a, C: postgres::GenericClient>(pub &'a mut C);

impl<C: postgres::GenericClient> Conn for Pg<'_, C> {
    fn exec(&mut self, sql: &str, params: &[Value]) -> DbResult<usize> {
        Ok(self.0.execute(pg_placeholders(sql).as_str(), &pg_params(params))? as usize)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        pg_rows(self.0.query(pg_placeholders(sql).as_str(), &pg_params(params))?)
    }
    fn batch(&mut self, sql: &str) -> DbResult<()> {
        Ok(self.0.batch_execute(sql)?)
    }
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

type Task = Box<dyn FnOnce(DbResult<&mut postgres::Client>) + Send>;

/// PostgreSQL connections, each on a thread of its own.
pub struct PgPool {
    send: Mutex<mpsc::Sender<Task>>,
}

impl PgPool {
    /// Start `size` connection threads for `url`; connections open at their first use.
    pub fn new(url: &str, size: usize) -> DbResult<PgPool> {
        let mut config: postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("catchment");
        }
        let (send, recv) = mpsc::channel::<Task>();
        let recv = Arc::new(Mutex::new(recv));
        for i in 0..size.max(1) {
            let recv = recv.clone();
            let config = config.clone();
            std::thread::Builder::new()
                .name(format!("catchment-pg-{i}"))
                .spawn(move || {
                    let mut client: Option<postgres::Client> = None;
                    loop {
                        let task = match recv.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                            Ok(t) => t,
                            Err(_) => return,
                        };
                        if client.as_ref().is_some_and(|c| c.is_closed()) {
                            client = None;
                        }
                        if client.is_none() {
                            match config.connect(postgres::NoTls) {
                                Ok(c) => client = Some(c),
                                Err(e) => {
                                    task(Err(e.into()));
                                    continue;
                                }
                            }
                        }
                        if let Some(c) = client.as_mut() {
                            task(Ok(c));
                        }
                    }
                })
                .map_err(|e| DbError::Schema(format!("cannot start a connection thread: {e}")))?;
        }
        Ok(PgPool { send: Mutex::new(send) })
    }

    /// Run `f` on a connection thread and wait for its answer.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> DbResult<T> + Send + 'static,
    ) -> DbResult<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        let task: Task = Box::new(move |client| {
            let _ = tx.send(client.and_then(f));
        });
        self.send
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(task)
            .map_err(|_| DbError::Gone)?;
        rx.recv().map_err(|_| DbError::Gone)?
    }
}

// --- The database -------------------------------------------------------------------------

/// Where the service keeps its data: `--db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl Target {
    /// `postgres://...` / `postgresql://...` is PostgreSQL; anything else a SQLite file.
    pub fn parse(db: &str) -> Target {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            Target::Postgres(db.to_string())
        } else {
            Target::Sqlite(PathBuf::from(db))
        }
    }

    /// The target for logs and messages: a URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Postgres(url) => redact(url),
        }
    }
}

/// A PostgreSQL URL without its password (`postgres://user:***@host/db`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    // A password in the query string (`?password=...`).
    let tail = match tail.find("password=") {
        Some(p) => {
            let end = tail[p..].find('&').map(|e| p + e).unwrap_or(tail.len());
            format!("{}password=***{}", &tail[..p], &tail[end..])
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// The database of the service: one SQLite connection behind a lock, or PostgreSQL
/// connection threads.
pub enum Db {
    /// SQLite.
    Sqlite(Mutex<rusqlite::Connection>),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Db {
    /// The database's dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Run `f` on a connection.
    pub fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> DbResult<T> + Send + 'static,
    ) -> DbResult<T> {
        match self {
            Db::Sqlite(c) => f(&mut Sqlite(&c.lock().unwrap_or_else(|e| e.into_inner()))),
            Db::Postgres(pool) => pool.run(move |c| f(&mut Pg(c))),
        }
    }

    /// Run `f` in a transaction, committed when `f` returns `Ok`, rolled back otherwise
    /// (SQLite: `BEGIN IMMEDIATE`, so two writers never interleave).
    pub fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> DbResult<T> + Send + 'static,
    ) -> DbResult<T> {
        match self {
            Db::Sqlite(c) => {
                let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let out = f(&mut Sqlite(&tx))?;
                tx.commit()?;
                Ok(out)
            }
            Db::Postgres(pool) => pool.run(move |c| {
                let mut tx = c.transaction()?;
                let out = f(&mut Pg(&mut tx))?;
                tx.commit()?;
                Ok(out)
            }),
        }
    }
}

// --- Migrations ---------------------------------------------------------------------------

/// What a migration does.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Statements in SQLite's dialect (`BLOB` and `INTEGER` become `BYTEA` and `BIGINT` on
    /// PostgreSQL).
    Sql(&'static str),
    /// A column added unless it is there (databases made before migrations were recorded may
    /// have it already).
    AddColumn {
        /// The table.
        table: &'static str,
        /// The column's name.
        column: &'static str,
        /// Its type and constraints (`INTEGER NOT NULL DEFAULT 0`).
        decl: &'static str,
    },
}

/// One versioned change of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number: 1, 2, 3, ... in the order of [`MIGRATIONS`].
    pub version: i64,
    /// What it does, recorded in `schema_migrations`.
    pub name: &'static str,
    /// The change.
    pub step: Step,
}

impl Migration {
    /// A migration of SQL statements.
    pub const fn sql(version: i64, name: &'static str, sql: &'static str) -> Migration {
        Migration { version, name, step: Step::Sql(sql) }
    }
    /// A migration adding one column.
    pub const fn add_column(
        version: i64,
        table: &'static str,
        column: &'static str,
        decl: &'static str,
    ) -> Migration {
        Migration { version, name: column, step: Step::AddColumn { table, column, decl } }
    }
}

/// The schema, step by step. Append only: a step once released is never changed.
pub const MIGRATIONS: &[Migration] = &[
    Migration::sql(1, "jobs, plans, scenario sets, simulations", BASE_SCHEMA),
    Migration::add_column(2, "scenario_sets", "request", "TEXT"),
    Migration::add_column(3, "scenario_sets", "attempts", "INTEGER NOT NULL DEFAULT 0"),
    Migration::add_column(4, "jobs", "worker", "TEXT"),
    Migration::add_column(5, "jobs", "lease_until", "INTEGER"),
    Migration::add_column(6, "jobs", "takeovers", "INTEGER NOT NULL DEFAULT 0"),
    Migration::add_column(7, "jobs", "completions", "INTEGER NOT NULL DEFAULT 0"),
    Migration::sql(
        8,
        "jobs by state",
        "CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq)",
    ),
    // Saved versions of plans (`versions.rs`): no foreign key, never updated or deleted.
    Migration::sql(
        9,
        "plan versions",
        "CREATE TABLE IF NOT EXISTS plan_versions (
            id TEXT PRIMARY KEY,
            plan_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            author TEXT NOT NULL,
            note TEXT NOT NULL,
            body TEXT NOT NULL
        )",
    ),
    // Scenario sets and simulations are jobs like plans: claimed, leased, taken over.
    Migration::add_column(10, "jobs", "kind", "TEXT NOT NULL DEFAULT 'plan'"),
    // Files by content: stored once in `blobs`, referred to by their SHA-256 (an older row
    // keeps its own bytes and no hash).
    Migration::sql(
        11,
        "blobs",
        "CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, bytes BLOB NOT NULL)",
    ),
    Migration::add_column(12, "plan_files", "hash", "TEXT"),
    Migration::add_column(13, "scenario_files", "hash", "TEXT"),
    Migration::sql(
        14,
        "files by hash",
        "CREATE INDEX IF NOT EXISTS plan_files_hash ON plan_files (hash);
         CREATE INDEX IF NOT EXISTS scenario_files_hash ON scenario_files (hash)",
    ),
    // The files of jobs of other kinds (site choices), by content.
    Migration::sql(
        15,
        "job files",
        "CREATE TABLE IF NOT EXISTS job_files (
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            bytes BLOB NOT NULL,
            hash TEXT,
            PRIMARY KEY (id, name)
        );
        CREATE INDEX IF NOT EXISTS job_files_hash ON job_files (hash)",
    ),
    // A plan submitted with `keep_inputs`: its request stays with the done job (re-solves).
    Migration::add_column(16, "jobs", "keep_request", "INTEGER NOT NULL DEFAULT 0"),
];

/// The current time in Unix seconds (0 if the clock is before 1970).
fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The schema of the first version (the tables as they were before migrations were recorded).
const BASE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed')),
    stage TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    request TEXT,
    error TEXT,
    pupils INTEGER NOT NULL,
    schools INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS plans (
    id TEXT PRIMARY KEY REFERENCES jobs(id),
    created_at INTEGER NOT NULL,
    summary BLOB NOT NULL,
    assignments BLOB NOT NULL,
    schools BLOB NOT NULL,
    certificate BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS plan_files (
    id TEXT NOT NULL REFERENCES jobs(id),
    name TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (id, name)
);
CREATE TABLE IF NOT EXISTS scenario_sets (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('running','done','failed')),
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    error TEXT
);
CREATE TABLE IF NOT EXISTS scenario_files (
    id TEXT NOT NULL REFERENCES scenario_sets(id),
    name TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (id, name)
);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS simulations (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL REFERENCES jobs(id),
    created_at INTEGER NOT NULL,
    json BLOB NOT NULL,
    csv BLOB NOT NULL
);";

/// The newest schema version this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

fn has_column(c: &mut dyn Conn, table: &str, column: &str) -> DbResult<bool> {
    let n = match c.dialect() {
        Dialect::Sqlite => c.query_one(
            "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name=?2",
            &params![table, column],
        )?,
        Dialect::Postgres => c.query_one(
            "SELECT COUNT(*) FROM information_schema.columns
             WHERE table_schema::text = current_schema() AND table_name::text = ?1
               AND column_name::text = ?2",
            &params![table, column],
        )?,
    };
    Ok(n.int(0)? > 0)
}

/// The schema version of the database (0: none recorded).
pub fn version(c: &mut dyn Conn) -> DbResult<i64> {
    let exists = match c.dialect() {
        Dialect::Sqlite => c.query_one(
            "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'",
            &[],
        )?,
        Dialect::Postgres => c.query_one(
            "SELECT COUNT(*) FROM information_schema.tables
             WHERE table_schema::text = current_schema() AND table_name::text = 'schema_migrations'",
            &[],
        )?,
    };
    if exists.int(0)? == 0 {
        return Ok(0);
    }
    c.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.int(0)
}

/// Apply the migrations the database lacks, in order, in one transaction; the versions
/// applied. A database of a newer build (versions this build does not know) is refused.
pub fn migrate(db: &Db) -> DbResult<Vec<i64>> {
    db.tx(|c| {
        if c.dialect() == Dialect::Postgres {
            // Nodes starting together: one migrates, the others wait and find nothing to do.
            c.batch("SELECT pg_advisory_xact_lock(7216041820)")?;
        }
        c.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at BIGINT NOT NULL
             )",
        )?;
        let have = version(c)?;
        if have > latest() {
            return Err(DbError::Schema(format!(
                "the database's schema is version {have}, newer than this build's {}: run a \
                 newer catchment on it",
                latest()
            )));
        }
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > have) {
            match m.step {
                Step::Sql(sql) => match c.dialect() {
                    Dialect::Sqlite => c.batch(sql)?,
                    Dialect::Postgres => c.batch(&pg_ddl(sql))?,
                },
                Step::AddColumn { table, column, decl } => {
                    if !has_column(c, table, column)? {
                        let decl = match c.dialect() {
                            Dialect::Sqlite => decl.to_string(),
                            Dialect::Postgres => pg_ddl(decl),
                        };
                        c.batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
                    }
                }
            }
            c.exec(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                &params![m.version, m.name, unix_seconds()],
            )?;
            applied.push(m.version);
        }
        Ok(applied)
    })
}

/// Open the database at `target`: SQLite's file with its settings, or PostgreSQL's connection
/// threads (`pool` connections). Not migrated yet.
pub fn open(target: &Target, pool: usize) -> DbResult<Db> {
    match target {
        Target::Sqlite(path) => open_sqlite(path, rusqlite::OpenFlags::default()),
        Target::Postgres(url) => {
            let db = Db::Postgres(PgPool::new(url, pool)?);
            // Reached now, so a wrong URL is said at start.
            db.with(|c| c.query("SELECT 1", &[]).map(|_| ()))?;
            Ok(db)
        }
    }
}

/// Open a SQLite file in WAL mode with the service's settings.
pub fn open_sqlite(path: &Path, flags: rusqlite::OpenFlags) -> DbResult<Db> {
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // Freed pages go back to the file system (`PRAGMA incremental_vacuum` after a retention
    // sweep). Set before the first table; a database made without it is vacuumed once.
    let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if auto_vacuum != 2 {
        conn.execute_batch("PRAGMA auto_vacuum=INCREMENTAL")?;
        let tables: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables > 0 {
            conn.execute_batch("VACUUM")?;
        }
    }
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::Schema(format!("journal mode is {mode}, not WAL")));
    }
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL;
         PRAGMA foreign_keys=ON;
         PRAGMA secure_delete=ON;",
    )?;
    Ok(Db::Sqlite(Mutex::new(conn)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_types_become_postgresqls() {
        assert_eq!(pg_placeholders("a=?1 AND b=?12 AND c='?'"), "a=$1 AND b=$12 AND c='?'");
        assert_eq!(
            pg_ddl("x INTEGER NOT NULL, y BLOB, z INTEGERS, w TEXT DEFAULT ?1"),
            "x BIGINT NOT NULL, y BYTEA, z INTEGERS, w TEXT DEFAULT $1"
        );
    }

    #[test]
    fn migration_versions_count_up_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
    }

    #[test]
    fn passwords_are_not_shown() {
        let shown =
            Target::parse("postgres://app:s3cret@db.example:5432/c?sslmode=disable").shown();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.example:5432/c"), "{shown}");
        let shown = Target::parse("postgresql:///c?host=/run/pg&password=s3cret&user=x").shown();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(Target::parse("c.db"), Target::Sqlite("c.db".into()));
    }

    /// A database made before migrations were recorded (the tables of the first version with
    /// the scenario sets' later columns) opens: the steps that it has are recorded, the rest
    /// applied; a second run applies nothing.
    #[test]
    fn an_older_sqlite_file_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(BASE_SCHEMA).unwrap();
            c.execute_batch("ALTER TABLE scenario_sets ADD COLUMN request TEXT").unwrap();
            c.execute(
                "INSERT INTO jobs (id, state, created_at, pupils, schools, seq)
                 VALUES ('j1', 'done', 1, 2, 3, 1)",
                [],
            )
            .unwrap();
        }
        let db = open_sqlite(&path, rusqlite::OpenFlags::default()).unwrap();
        let applied = migrate(&db).unwrap();
        assert_eq!(applied, (1..=latest()).collect::<Vec<_>>());
        assert!(migrate(&db).unwrap().is_empty());
        let row = db
            .with(|c| c.query_one("SELECT completions, takeovers, pupils FROM jobs", &[]))
            .unwrap();
        assert_eq!((row.int(0).unwrap(), row.int(1).unwrap(), row.int(2).unwrap()), (0, 0, 2));
        assert_eq!(db.with(|c| version(c)).unwrap(), latest());
    }
}
