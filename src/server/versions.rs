//! Saved versions of a plan: an edit (the moves applied to a plan) with a note, who saved it
//! and when, its figures and every block's school. Read-only once saved: there is no update
//! and no delete (retention does not touch them: a version outlives the job it was made
//! from, since it holds its own districts and figures).
//!
//! The table is self-contained: one `CREATE TABLE` ([`CREATE_TABLE`]), no foreign key, run
//! when the store opens.

use rusqlite::{params, Connection, OptionalExtension};

/// The versions table.
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS plan_versions (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    author TEXT NOT NULL,
    note TEXT NOT NULL,
    body TEXT NOT NULL
);";

/// A stored version: its row, and its body (JSON: moves, evaluation, districts).
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// The version's id.
    pub id: String,
    /// The plan it was made from.
    pub plan_id: String,
    /// 1, 2, ... per plan, in the order saved.
    pub number: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// The name of the token that saved it.
    pub author: String,
    /// Why it was saved.
    pub note: String,
    /// The version's content as JSON text.
    pub body: String,
}

/// Store a version; its number is the plan's next.
pub fn insert(
    c: &Connection,
    id: &str,
    plan_id: &str,
    author: &str,
    note: &str,
    body: &str,
    now: i64,
) -> rusqlite::Result<u32> {
    c.execute(CREATE_TABLE, [])?;
    let seq: u32 = c.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM plan_versions WHERE plan_id=?1",
        [plan_id],
        |r| r.get(0),
    )?;
    c.execute(
        "INSERT INTO plan_versions (id, plan_id, seq, created_at, author, note, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, plan_id, seq, now, author, note, body],
    )?;
    Ok(seq)
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<StoredVersion> {
    Ok(StoredVersion {
        id: r.get(0)?,
        plan_id: r.get(1)?,
        number: r.get(2)?,
        created_at: r.get(3)?,
        author: r.get(4)?,
        note: r.get(5)?,
        body: r.get(6)?,
    })
}

/// One version by id.
pub fn get(c: &Connection, id: &str) -> rusqlite::Result<Option<StoredVersion>> {
    c.query_row(
        "SELECT id, plan_id, seq, created_at, author, note, body FROM plan_versions WHERE id=?1",
        [id],
        row,
    )
    .optional()
}

/// A plan's versions, oldest first.
pub fn list(c: &Connection, plan_id: &str) -> rusqlite::Result<Vec<StoredVersion>> {
    let mut st = c.prepare(
        "SELECT id, plan_id, seq, created_at, author, note, body FROM plan_versions
         WHERE plan_id=?1 ORDER BY seq",
    )?;
    let rows = st.query_map([plan_id], row)?;
    rows.collect()
}
