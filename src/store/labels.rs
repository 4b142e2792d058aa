//! A failure's server as the aggregate rows carry it: typed in memory
//! (`Option<ServerKind>`), written as the API, `/metrics` and the rollups
//! show it (its name, `unknown` when no log named one; see `rollups.rs`),
//! and read back checked. A cause is stored and read by `Cause`'s own
//! `ToSql`/`FromSql` (`failure_record.rs`); a server kind lives in the
//! parsers crate, which has no SQL, so its column is read here.
//!
//! Invariant: `server_label` and `server_column` are inverses, and the
//! `failures` table's NULL for "no server" reads as `None` too.

use grantwatch_parsers::ServerKind;
use rusqlite::Row;

/// The label of a failure whose logs named no server.
pub const UNKNOWN_SERVER: &str = "unknown";

/// `server`'s name, or [`UNKNOWN_SERVER`].
pub fn server_label(server: Option<ServerKind>) -> &'static str {
    server.map_or(UNKNOWN_SERVER, ServerKind::as_str)
}

/// The server a label names ([`server_label`]'s inverse): `Some(None)` for
/// [`UNKNOWN_SERVER`], `None` for a name this binary does not know.
pub fn server_of_label(name: &str) -> Option<Option<ServerKind>> {
    if name == UNKNOWN_SERVER {
        return Some(None);
    }
    ServerKind::from_name(name).map(Some)
}

/// Every server label: each kind's name, then [`UNKNOWN_SERVER`].
pub fn server_labels() -> impl Iterator<Item = &'static str> {
    grantwatch_parsers::ALL_SERVERS
        .iter()
        .map(|s| s.as_str())
        .chain([UNKNOWN_SERVER])
}

/// Column `i`, a server label (or NULL): a name this binary does not know is
/// an error, not a silent `unknown`.
pub(crate) fn server_column(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<ServerKind>> {
    let Some(name) = r.get::<_, Option<String>>(i)? else {
        return Ok(None);
    };
    server_of_label(&name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown server kind {name:?}").into(),
        )
    })
}

/// Serializes a server as its label (`serialize_with`), the string the
/// JSON carried when the field was one.
pub fn serialize_server<S: serde::Serializer>(
    server: &Option<ServerKind>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(server_label(*server))
}

/// Reads a label written by [`serialize_server`] (`deserialize_with`); a
/// name this binary does not know is an error.
pub fn deserialize_server<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<ServerKind>, D::Error> {
    let name = <String as serde::Deserialize>::deserialize(d)?;
    server_of_label(&name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown server kind {name:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantwatch_parsers::ALL_SERVERS;

    #[test]
    fn every_label_reads_back_as_written() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        for server in ALL_SERVERS.map(Some).into_iter().chain([None]) {
            let back = conn
                .query_row("SELECT ?1", [server_label(server)], |r| server_column(r, 0))
                .expect("read");
            assert_eq!(back, server);
        }
        let null = conn
            .query_row("SELECT NULL", [], |r| server_column(r, 0))
            .expect("null");
        assert_eq!(null, None);
        assert!(
            conn.query_row("SELECT 'apache'", [], |r| server_column(r, 0))
                .is_err()
        );
    }
}
