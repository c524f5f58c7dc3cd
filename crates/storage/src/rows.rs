//! Small helpers for reading `Any` rows.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, StoreError};

pub(crate) fn get<T>(row: &AnyRow, column: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get::<T, _>(column)
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Decodes an enum stored by its name, reporting the column on failure.
pub(crate) fn parse_enum<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let raw: String = get(row, column)?;
    parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("{column}: unexpected value {raw:?}")))
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    let raw: String = get(row, column)?;
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Our own JSON of a model value, for a TEXT column.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// `$1, $2, …` starting after `offset` placeholders, for statements with variable-length lists.
pub(crate) fn placeholders(offset: usize, n: usize) -> String {
    (offset + 1..=offset + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row statement: keeps every statement well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters whatever the column count.
pub(crate) const ROWS_PER_STATEMENT: usize = 400;

#[cfg(test)]
mod tests {
    use crate::Backend;

    #[test]
    fn values_lists_number_their_placeholders_row_by_row() {
        assert_eq!(
            Backend::Postgres.values_rows(2, 3, 1),
            "($2, $3, $4), ($5, $6, $7)"
        );
        assert_eq!(Backend::Sqlite.values_rows(2, 2, 1), "(?, ?), (?, ?)");
        assert_eq!(super::placeholders(0, 2), "$1, $2");
    }
}
