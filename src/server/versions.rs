//! Saved versions of a plan: an edit (the moves applied to a plan) with a note, who saved it
//! and when, its figures and every block's school. Read-only once saved: there is no update
//! and no delete (retention does not touch them: a version outlives the job it was made
//! from, since it holds its own districts and figures).
//!
//! The table (`plan_versions`) is created by migration 9 of [`super::db::MIGRATIONS`]; it
//! has no foreign key.

use super::db::{params, Db, DbResult, Row};

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
    db: &Db,
    id: &str,
    plan_id: &str,
    author: &str,
    note: &str,
    body: &str,
    now: i64,
) -> DbResult<u32> {
    let (id, plan_id, author, note, body) = (
        id.to_string(),
        plan_id.to_string(),
        author.to_string(),
        note.to_string(),
        body.to_string(),
    );
    db.tx(move |c| {
        let seq = c
            .query_one(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM plan_versions WHERE plan_id=?1",
                &params![&plan_id],
            )?
            .int(0)?;
        c.exec(
            "INSERT INTO plan_versions (id, plan_id, seq, created_at, author, note, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &params![&id, &plan_id, seq, now, &author, &note, &body],
        )?;
        Ok(seq as u32)
    })
}

fn row(r: &Row) -> DbResult<StoredVersion> {
    Ok(StoredVersion {
        id: r.text(0)?,
        plan_id: r.text(1)?,
        number: r.int(2)? as u32,
        created_at: r.int(3)?,
        author: r.text(4)?,
        note: r.text(5)?,
        body: r.text(6)?,
    })
}

/// One version by id.
pub fn get(db: &Db, id: &str) -> DbResult<Option<StoredVersion>> {
    let id = id.to_string();
    db.with(move |c| {
        c.query_opt(
            "SELECT id, plan_id, seq, created_at, author, note, body FROM plan_versions WHERE id=?1",
            &params![&id],
        )?
        .map(|r| row(&r))
        .transpose()
    })
}

/// A plan's versions, oldest first.
pub fn list(db: &Db, plan_id: &str) -> DbResult<Vec<StoredVersion>> {
    let plan_id = plan_id.to_string();
    db.with(move |c| {
        c.query(
            "SELECT id, plan_id, seq, created_at, author, note, body FROM plan_versions
             WHERE plan_id=?1 ORDER BY seq",
            &params![&plan_id],
        )?
        .iter()
        .map(row)
        .collect()
    })
}
