//! SQLite's result codes, sorted the way [`StoreError`](crate::store::StoreError) sorts
//! PostgreSQL's: is the database away (worth retrying), is the file damaged, or was this
//! statement's data refused.

/// What a failed SQLite call means for the caller.
pub enum SqliteClass {
    /// Locked by another connection past the busy timeout, an I/O error, a full disk, a file
    /// that cannot be opened: the same call may well succeed later.
    Unavailable,
    /// The file is not a database, or is damaged.
    Corrupt,
    /// A constraint, a type, a statement: it will fail again.
    Rejected,
}

/// Sorts an extended result code (https://www.sqlite.org/rescode.html) by its primary code.
pub fn classify(extended: i32) -> SqliteClass {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const NOMEM: i32 = 7;
    const READONLY: i32 = 8;
    const INTERRUPT: i32 = 9;
    const IOERR: i32 = 10;
    const CORRUPT: i32 = 11;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    const PROTOCOL: i32 = 15;
    const NOTADB: i32 = 26;
    match extended & 0xff {
        // READONLY: the file or its directory lost write permission (or a read-only recovery);
        // an operator can fix that without touching the data.
        BUSY | LOCKED | NOMEM | READONLY | INTERRUPT | IOERR | FULL | CANTOPEN | PROTOCOL => SqliteClass::Unavailable,
        CORRUPT | NOTADB => SqliteClass::Corrupt,
        _ => SqliteClass::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_sort_by_their_primary_code() {
        let class = |c| match classify(c) {
            SqliteClass::Unavailable => "unavailable",
            SqliteClass::Corrupt => "corrupt",
            SqliteClass::Rejected => "rejected",
        };
        // BUSY, BUSY_SNAPSHOT (517), LOCKED, IOERR_FSYNC (1034), FULL, CANTOPEN, READONLY.
        for c in [5, 517, 6, 10, 1034, 13, 14, 8] {
            assert_eq!(class(c), "unavailable", "{c}");
        }
        for c in [11, 26] {
            assert_eq!(class(c), "corrupt", "{c}");
        }
        // ERROR, CONSTRAINT_UNIQUE (2067), CONSTRAINT_FOREIGNKEY (787), TOOBIG, MISMATCH.
        for c in [1, 2067, 787, 18, 20] {
            assert_eq!(class(c), "rejected", "{c}");
        }
    }
}
