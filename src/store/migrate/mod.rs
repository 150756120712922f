//! `leadbot migrate-store`: copies a deployment's data from one store to another (the embedded
//! SQLite file to PostgreSQL when it outgrows one node, or back). Every table, row for row, ids
//! kept — and each id sequence carried over, so an id is never handed out twice and the outbox,
//! inbox and transcript references stay valid. The copy reads the source in one snapshot and
//! writes the target in one transaction; the row counts are compared inside it, and on any
//! mismatch nothing is committed.
//!
//! The tables are listed in `tables.rs` with each column's kind (the two schemas store
//! timestamps, JSON and booleans differently). Both schemas are checked against the list before
//! a row moves: a table or column the list does not know (a newer migration) stops the copy
//! instead of being left behind.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::{Row, Transaction};

mod tables;

use self::tables::{Kind::*, Table, NOT_DATA, TABLES};
use super::sqlite::time::{from_micros, micros};
use super::{Backend, StoreError, StoreResult};

/// Rows per INSERT statement (well under both databases' bind-parameter limits).
const CHUNK: usize = 500;

/// What the copy is doing, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Rows to copy in all, known once the source is counted.
    Total(u64),
    /// Now copying this table.
    Table(&'static str),
    /// This many more rows are written.
    Rows(u64),
}

/// One table's rows in the source and in the target after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub table: &'static str,
    pub source: i64,
    pub target: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the target already holds data ({0}); give --replace to delete it first")]
    TargetNotEmpty(String),
    #[error("{0}")]
    Schema(String),
    #[error("row counts differ after the copy (nothing was committed): {0}")]
    Mismatch(String),
    #[error("source and target are the same database")]
    SameDatabase,
}

impl From<sqlx::Error> for MigrateError {
    fn from(e: sqlx::Error) -> Self {
        MigrateError::Store(e.into())
    }
}

/// One column's value on its way between the databases.
#[derive(Debug, Clone)]
enum Val {
    I64(Option<i64>),
    I32(Option<i32>),
    Text(Option<String>),
    Ts(Option<DateTime<Utc>>),
    Json(Option<Value>),
    Bool(Option<bool>),
    Date(Option<NaiveDate>),
    F64(Option<f64>),
}

enum Source {
    Pg(Transaction<'static, sqlx::Postgres>),
    Lite(Transaction<'static, sqlx::Sqlite>),
}

enum Target {
    Pg(Transaction<'static, sqlx::Postgres>),
    Lite(Transaction<'static, sqlx::Sqlite>),
}

/// Copies every table of `from` into `to`; `replace` deletes what `to` holds first (else a
/// target with any row is refused). Returns the per-table counts, all equal.
pub async fn copy(
    from: &Backend,
    to: &Backend,
    replace: bool,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<Count>, MigrateError> {
    if same(from, to) {
        return Err(MigrateError::SameDatabase);
    }
    // One snapshot of the source: what is counted is what is copied.
    let mut src = match from {
        Backend::Postgres(s) => Source::Pg(
            s.pool()
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?,
        ),
        // A deferred transaction's first read fixes its WAL snapshot.
        Backend::Sqlite(s) => Source::Lite(s.pool().begin_with("BEGIN DEFERRED").await?),
    };
    let mut dst = match to {
        Backend::Postgres(s) => Target::Pg(s.pool().begin().await?),
        Backend::Sqlite(s) => Target::Lite(s.pool().begin_with("BEGIN IMMEDIATE").await?),
    };
    check_schema(&mut src, &mut dst).await?;

    let mut counts = vec![];
    let mut total = 0u64;
    let mut held = vec![];
    for t in TABLES {
        let n = src.count(t.name).await?;
        total += n as u64;
        let there = dst.count(t.name).await?;
        if there > 0 {
            held.push(format!("{}: {there} rows", t.name));
        }
        counts.push(Count {
            table: t.name,
            source: n,
            target: 0,
        });
    }
    if !held.is_empty() {
        if !replace {
            return Err(MigrateError::TargetNotEmpty(held.join(", ")));
        }
        // Children first.
        for t in TABLES.iter().rev() {
            dst.execute(&format!("DELETE FROM {}", t.name)).await?;
        }
    }
    progress(Progress::Total(total));

    for t in TABLES {
        progress(Progress::Table(t.name));
        copy_table(t, &mut src, &mut dst, progress).await?;
        if t.serial {
            let seq = src.sequence(t.name).await?;
            dst.set_sequence(t.name, seq).await?;
        }
    }

    let mut wrong = vec![];
    for c in &mut counts {
        c.target = dst.count(c.table).await?;
        if c.target != c.source {
            wrong.push(format!(
                "{}: {} in the source, {} in the target",
                c.table, c.source, c.target
            ));
        }
    }
    if !wrong.is_empty() {
        dst.rollback().await?;
        return Err(MigrateError::Mismatch(wrong.join(", ")));
    }
    dst.commit().await?;
    src.finish().await?;
    Ok(counts)
}

fn same(a: &Backend, b: &Backend) -> bool {
    match (a, b) {
        (Backend::Sqlite(a), Backend::Sqlite(b)) => {
            let canon = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            canon(a.path()) == canon(b.path())
        }
        // Two PostgreSQL URLs may name one database in many ways; the epoch lock does not
        // tell. The target-not-empty check catches it (a source always has rows worth copying).
        _ => false,
    }
}

async fn copy_table(
    t: &Table,
    src: &mut Source,
    dst: &mut Target,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), MigrateError> {
    let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
    let select = format!("SELECT {} FROM {} ORDER BY {}", cols.join(", "), t.name, t.order);
    let mut batch: Vec<Vec<Val>> = Vec::with_capacity(CHUNK);
    match src {
        Source::Pg(tx) => {
            let mut rows = sqlx::query(&select).fetch(&mut **tx);
            while let Some(row) = rows.try_next().await? {
                batch.push(read_pg(t, &row)?);
                if batch.len() == CHUNK {
                    dst.insert(t, &batch).await?;
                    progress(Progress::Rows(batch.len() as u64));
                    batch.clear();
                }
            }
        }
        Source::Lite(tx) => {
            let mut rows = sqlx::query(&select).fetch(&mut **tx);
            while let Some(row) = rows.try_next().await? {
                batch.push(read_lite(t, &row)?);
                if batch.len() == CHUNK {
                    dst.insert(t, &batch).await?;
                    progress(Progress::Rows(batch.len() as u64));
                    batch.clear();
                }
            }
        }
    }
    if !batch.is_empty() {
        dst.insert(t, &batch).await?;
        progress(Progress::Rows(batch.len() as u64));
    }
    Ok(())
}

fn read_pg(t: &Table, row: &sqlx::postgres::PgRow) -> StoreResult<Vec<Val>> {
    t.columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                I64 => Val::I64(row.try_get(i)?),
                I32 => Val::I32(row.try_get(i)?),
                Text => Val::Text(row.try_get(i)?),
                Ts => Val::Ts(row.try_get(i)?),
                Json => Val::Json(row.try_get(i)?),
                Bool => Val::Bool(row.try_get(i)?),
                Date => Val::Date(row.try_get(i)?),
                F64 => Val::F64(row.try_get(i)?),
            })
        })
        .collect()
}

fn read_lite(t: &Table, row: &sqlx::sqlite::SqliteRow) -> StoreResult<Vec<Val>> {
    t.columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                I64 => Val::I64(row.try_get(i)?),
                I32 => Val::I32(row.try_get(i)?),
                Text => Val::Text(row.try_get(i)?),
                Ts => Val::Ts(row.try_get::<Option<i64>, _>(i)?.map(from_micros).transpose()?),
                Json => Val::Json(row.try_get(i)?),
                Bool => Val::Bool(row.try_get(i)?),
                Date => Val::Date(row.try_get(i)?),
                F64 => Val::F64(row.try_get(i)?),
            })
        })
        .collect()
}

/// `INSERT INTO t (cols) VALUES ($1, …), (…)` for `rows` rows.
fn insert_sql(t: &Table, rows: usize) -> String {
    let n = t.columns.len();
    let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let ps: Vec<String> = (0..n).map(|c| format!("${}", r * n + c + 1)).collect();
            format!("({})", ps.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        t.name,
        cols.join(", "),
        values.join(", ")
    )
}

impl Source {
    async fn count(&mut self, table: &str) -> StoreResult<i64> {
        let q = format!("SELECT count(*) FROM {table}");
        Ok(match self {
            Source::Pg(tx) => sqlx::query_scalar(&q).fetch_one(&mut **tx).await?,
            Source::Lite(tx) => sqlx::query_scalar(&q).fetch_one(&mut **tx).await?,
        })
    }

    /// The last id the table's sequence handed out (0: none yet).
    async fn sequence(&mut self, table: &str) -> StoreResult<i64> {
        match self {
            Source::Pg(tx) => {
                let row = sqlx::query(&format!(
                    "SELECT last_value, is_called FROM {}",
                    pg_sequence(&mut *tx, table).await?
                ))
                .fetch_one(&mut **tx)
                .await?;
                let (last, called): (i64, bool) = (row.try_get(0)?, row.try_get(1)?);
                Ok(if called { last } else { last - 1 })
            }
            Source::Lite(tx) => Ok(sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = $1")
                .bind(table)
                .fetch_optional(&mut **tx)
                .await?
                .unwrap_or(0)),
        }
    }

    async fn tables(&mut self) -> StoreResult<BTreeSet<String>> {
        match self {
            Source::Pg(tx) => pg_tables(tx).await,
            Source::Lite(tx) => lite_tables(tx).await,
        }
    }

    async fn columns(&mut self, table: &str) -> StoreResult<BTreeSet<String>> {
        match self {
            Source::Pg(tx) => pg_columns(tx, table).await,
            Source::Lite(tx) => lite_columns(tx, table).await,
        }
    }

    async fn finish(self) -> StoreResult<()> {
        match self {
            Source::Pg(tx) => tx.rollback().await?,
            Source::Lite(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

impl Target {
    async fn count(&mut self, table: &str) -> StoreResult<i64> {
        let q = format!("SELECT count(*) FROM {table}");
        Ok(match self {
            Target::Pg(tx) => sqlx::query_scalar(&q).fetch_one(&mut **tx).await?,
            Target::Lite(tx) => sqlx::query_scalar(&q).fetch_one(&mut **tx).await?,
        })
    }

    async fn execute(&mut self, sql: &str) -> StoreResult<()> {
        match self {
            Target::Pg(tx) => {
                sqlx::query(sql).execute(&mut **tx).await?;
            }
            Target::Lite(tx) => {
                sqlx::query(sql).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    async fn insert(&mut self, t: &Table, rows: &[Vec<Val>]) -> StoreResult<()> {
        let sql = insert_sql(t, rows.len());
        match self {
            Target::Pg(tx) => {
                let mut q = sqlx::query(&sql);
                for v in rows.iter().flatten() {
                    q = match v.clone() {
                        Val::I64(x) => q.bind(x),
                        Val::I32(x) => q.bind(x),
                        Val::Text(x) => q.bind(x),
                        Val::Ts(x) => q.bind(x),
                        Val::Json(x) => q.bind(x),
                        Val::Bool(x) => q.bind(x),
                        Val::Date(x) => q.bind(x),
                        Val::F64(x) => q.bind(x),
                    };
                }
                q.execute(&mut **tx).await?;
            }
            Target::Lite(tx) => {
                let mut q = sqlx::query(&sql);
                for v in rows.iter().flatten() {
                    q = match v.clone() {
                        Val::I64(x) => q.bind(x),
                        Val::I32(x) => q.bind(x),
                        Val::Text(x) => q.bind(x),
                        Val::Ts(x) => q.bind(x.map(micros)),
                        Val::Json(x) => q.bind(x),
                        Val::Bool(x) => q.bind(x),
                        Val::Date(x) => q.bind(x),
                        Val::F64(x) => q.bind(x),
                    };
                }
                q.execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// Makes the table's next id follow `last` and every copied id.
    async fn set_sequence(&mut self, table: &str, last: i64) -> StoreResult<()> {
        match self {
            Target::Pg(tx) => {
                let seq = pg_sequence(&mut *tx, table).await?;
                // setval(seq, n, true): the next id is n + 1; with nothing handed out yet,
                // setval(seq, 1, false): the next is 1.
                sqlx::query(&format!(
                    "SELECT setval('{seq}', GREATEST($1, (SELECT COALESCE(max(id), 0) FROM {table}), 1),
                                   GREATEST($1, (SELECT COALESCE(max(id), 0) FROM {table})) > 0)"
                ))
                .bind(last)
                .execute(&mut **tx)
                .await?;
            }
            Target::Lite(tx) => {
                let max: i64 = sqlx::query_scalar(&format!("SELECT COALESCE(max(id), 0) FROM {table}"))
                    .fetch_one(&mut **tx)
                    .await?;
                let seq = last.max(max);
                let updated = sqlx::query("UPDATE sqlite_sequence SET seq = $2 WHERE name = $1")
                    .bind(table)
                    .bind(seq)
                    .execute(&mut **tx)
                    .await?;
                if updated.rows_affected() == 0 && seq > 0 {
                    sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ($1, $2)")
                        .bind(table)
                        .bind(seq)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn columns(&mut self, table: &str) -> StoreResult<BTreeSet<String>> {
        match self {
            Target::Pg(tx) => pg_columns(tx, table).await,
            Target::Lite(tx) => lite_columns(tx, table).await,
        }
    }

    async fn commit(self) -> StoreResult<()> {
        match self {
            Target::Pg(tx) => tx.commit().await?,
            Target::Lite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    async fn rollback(self) -> StoreResult<()> {
        match self {
            Target::Pg(tx) => tx.rollback().await?,
            Target::Lite(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// The sequence behind `table.id`.
async fn pg_sequence(tx: &mut Transaction<'static, sqlx::Postgres>, table: &str) -> StoreResult<String> {
    let seq: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, 'id')")
        .bind(table)
        .fetch_one(&mut **tx)
        .await?;
    seq.ok_or_else(|| StoreError::Corrupt(format!("{table}.id has no sequence")))
}

async fn pg_tables(tx: &mut Transaction<'static, sqlx::Postgres>) -> StoreResult<BTreeSet<String>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(names.into_iter().collect())
}

async fn pg_columns(tx: &mut Transaction<'static, sqlx::Postgres>, table: &str) -> StoreResult<BTreeSet<String>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    Ok(names.into_iter().collect())
}

async fn lite_tables(tx: &mut Transaction<'static, sqlx::Sqlite>) -> StoreResult<BTreeSet<String>> {
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut **tx)
        .await?;
    Ok(names.into_iter().collect())
}

async fn lite_columns(tx: &mut Transaction<'static, sqlx::Sqlite>, table: &str) -> StoreResult<BTreeSet<String>> {
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
        .bind(table)
        .fetch_all(&mut **tx)
        .await?;
    Ok(names.into_iter().collect())
}

/// Both schemas hold exactly the listed tables and columns (the target may hold more tables).
async fn check_schema(src: &mut Source, dst: &mut Target) -> Result<(), MigrateError> {
    let known: BTreeSet<&str> = TABLES.iter().map(|t| t.name).collect();
    let unknown: Vec<String> = src
        .tables()
        .await?
        .into_iter()
        .filter(|t| !known.contains(t.as_str()) && !NOT_DATA.contains(&t.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(MigrateError::Schema(format!(
            "the source has tables this leadbot does not know how to copy: {} (is the target leadbot older?)",
            unknown.join(", ")
        )));
    }
    for t in TABLES {
        let listed: BTreeSet<String> = t.columns.iter().map(|(c, _)| c.to_string()).collect();
        let there = src.columns(t.name).await?;
        if there != listed {
            return Err(MigrateError::Schema(format!(
                "source table {}: columns {:?}, expected {:?}",
                t.name, there, listed
            )));
        }
        let there = dst.columns(t.name).await?;
        if !listed.is_subset(&there) {
            return Err(MigrateError::Schema(format!(
                "target table {}: columns {:?} lack some of {:?}",
                t.name, there, listed
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_numbers_its_parameters_row_by_row() {
        let t = &TABLES[6]; // routing_cursors: two columns
        assert_eq!(
            insert_sql(t, 2),
            "INSERT INTO routing_cursors (group_name, position) VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn chunks_stay_under_the_bind_limits() {
        let widest = TABLES.iter().map(|t| t.columns.len()).max().unwrap_or(0);
        // SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766, PostgreSQL's 65535.
        assert!(widest * CHUNK < 32766);
    }
}
