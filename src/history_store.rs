//! The `run --history FILE` store: a SQLite database with one row per measured case of every
//! finished run, read back by `minebench history --db FILE`.
//!
//! Owns: the database file, its schema and schema version. Must not: compute statistics (it
//! stores the medians the report already holds) or decide what a series is (that is
//! [`crate::report::history`]). SQLite comes compiled in (rusqlite's `bundled` feature), so no
//! system library is needed where minebench runs.
//!
//! Why SQLite rather than a directory of reports: a CI job keeps one small file between runs
//! (a cache or an artefact) instead of every report directory with its profiles and charts.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::report::history::HistoryRow;
use crate::report::Report;

/// The schema this build writes and reads. Bump it (with a migration) when a column changes.
pub const SCHEMA_VERSION: i64 = 1;

/// The tables of version 1. `UNIQUE`: appending the same run twice adds nothing.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    id          INTEGER PRIMARY KEY,
    scenario    TEXT    NOT NULL,
    case_id     TEXT    NOT NULL,
    machine     TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    git_commit  TEXT,
    git_dirty   INTEGER,
    wall_median REAL    NOT NULL,
    cpu_median  REAL,
    samples     INTEGER NOT NULL,
    report_path TEXT    NOT NULL,
    UNIQUE (started_at, scenario, machine, case_id)
);
";

/// What went wrong with the store; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: no such history database", path.display())]
    Missing { path: PathBuf },
    #[error("{}: not a minebench history database (no schema_version table)", path.display())]
    NotOurs { path: PathBuf },
    #[error(
        "{}: history schema version {found}, this minebench reads version {SCHEMA_VERSION}",
        path.display()
    )]
    Version { path: PathBuf, found: i64 },
}

/// An open history database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens `path` for appending, creating the file and its tables if needed. Called before a
    /// run starts, so a bad path costs no hashing.
    pub fn open_for_append(path: &Path) -> Result<Store, StoreError> {
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        let version: Option<i64> = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .optional()
            .map_err(sql)?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(sql)?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(found) => {
                return Err(StoreError::Version {
                    path: path.to_path_buf(),
                    found,
                })
            }
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing database read-only (reading history never creates a file).
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        let has_table: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(sql)?;
        if !has_table {
            return Err(StoreError::NotOurs {
                path: path.to_path_buf(),
            });
        }
        let version: Option<i64> = conn
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .map_err(sql)?;
        if version != Some(SCHEMA_VERSION) {
            return Err(StoreError::Version {
                path: path.to_path_buf(),
                found: version.unwrap_or(0),
            });
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends every measured case of `report` (written at `report_path`) in one transaction;
    /// returns how many rows were new (0 when this run was already stored).
    pub fn append(&mut self, report: &Report, report_path: &Path) -> Result<usize, StoreError> {
        let rows = HistoryRow::from_report(report, &report_path.display().to_string());
        let tx = self
            .conn
            .transaction()
            .map_err(|e| self_sql(&self.path, e))?;
        let mut added = 0;
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO cases (scenario, case_id, machine, started_at, \
                     git_commit, git_dirty, wall_median, cpu_median, samples, report_path) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(|e| self_sql(&self.path, e))?;
            for r in &rows {
                added += insert
                    .execute(params![
                        r.scenario,
                        r.case_id,
                        r.machine,
                        r.started_at,
                        r.git_commit,
                        r.git_dirty,
                        r.wall_median,
                        r.cpu_median,
                        i64::try_from(r.samples).unwrap_or(i64::MAX),
                        r.source,
                    ])
                    .map_err(|e| self_sql(&self.path, e))?;
            }
        }
        tx.commit().map_err(|e| self_sql(&self.path, e))?;
        Ok(added)
    }

    /// Every stored row, in insertion order.
    pub fn rows(&self) -> Result<Vec<HistoryRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT scenario, case_id, machine, started_at, git_commit, git_dirty, \
                 wall_median, cpu_median, samples, report_path FROM cases ORDER BY id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(HistoryRow {
                    scenario: r.get(0)?,
                    case_id: r.get(1)?,
                    machine: r.get(2)?,
                    started_at: r.get(3)?,
                    git_commit: r.get(4)?,
                    git_dirty: r.get(5)?,
                    wall_median: r.get(6)?,
                    cpu_median: r.get(7)?,
                    samples: usize::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
                    source: r.get(9)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }
}

/// The path-naming error, for closures that cannot borrow the whole store.
fn self_sql(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Report {
        crate::report::compare::parse_report(include_str!("../tests/data/compare-base.json"))
            .expect("fixture parses")
    }

    #[test]
    fn appended_runs_read_back_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("h.sqlite");
        let report = fixture();
        {
            let mut store = Store::open_for_append(&db).unwrap();
            assert_eq!(
                store.append(&report, Path::new("a/report.json")).unwrap(),
                2
            );
            // The same run again adds nothing.
            assert_eq!(
                store.append(&report, Path::new("a/report.json")).unwrap(),
                0
            );
        }
        let mut later = report.clone();
        later.started_at = "2026-11-22T10:00:00Z".into();
        Store::open_for_append(&db)
            .unwrap()
            .append(&later, Path::new("b/report.json"))
            .unwrap();
        let rows = Store::open_existing(&db).unwrap().rows().unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[0],
            HistoryRow::from_report(&report, "a/report.json")[0]
        );
        assert_eq!(rows[3].source, "b/report.json");
    }

    #[test]
    fn a_missing_or_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.sqlite");
        assert!(matches!(
            Store::open_existing(&missing),
            Err(StoreError::Missing { .. })
        ));
        assert!(!missing.exists());
        let foreign = dir.path().join("other.sqlite");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER);")
            .unwrap();
        assert!(matches!(
            Store::open_existing(&foreign),
            Err(StoreError::NotOurs { .. })
        ));
        let text = dir.path().join("text.sqlite");
        std::fs::write(&text, "not a database at all, just some text in a file").unwrap();
        let err = Store::open_existing(&text).err().unwrap().to_string();
        assert!(err.contains("text.sqlite"), "{err}");
    }
}
