//! Hydra's JSON lines read in one pass by [`crate::json_scan`], the fields
//! `json.rs`'s structs name and nothing else built.
//!
//! Invariant: when this reader gives a record, it is the record `json.rs`
//! reads with `serde_json` from the same line, field for field; whatever it
//! cannot vouch for (a field of an unexpected type, a repeated field, which
//! `serde` refuses, or what the scanner calls unusual) is [`Unusual`], and
//! `json.rs` asks `serde_json`.

use std::borrow::Cow;

use super::record::{ErrorInfo, Record};
use crate::json_scan::{Scanned, Scanner, Seen, Unusual};

/// The top level's fields of the old flat shape, kept until the line's
/// end tells whether `error` was a string.
#[derive(Default)]
struct Flat<'t> {
    debug: Option<Cow<'t, str>>,
    description: Option<Cow<'t, str>>,
    hint: Option<Cow<'t, str>>,
    status_code: Option<u16>,
}

enum ErrorField<'t> {
    Object(ErrorInfo<'t>),
    Text(Cow<'t, str>),
}

/// Reads one JSON line, or says it is [`Unusual`].
pub(super) fn parse(text: &str) -> Scanned<Record<'_>> {
    let mut scan = Scanner::new(text);
    let mut rec = Record::default();
    let mut flat = Flat::default();
    let mut error = None;
    let mut seen = Seen::default();
    scan.object(|scan, key| {
        match key {
            "time" => rec.time = seen.once(0, scan.string_or_null())?,
            "msg" => rec.msg = seen.once(1, scan.string_or_null())?,
            "error" => error = seen.once(2, error_field(scan))?,
            "http_request" => seen.once(3, request(scan, &mut rec))?,
            "http_response" => {
                rec.response_status = seen.once(4, field_of(scan, "status", status))?;
            }
            "otel" => {
                rec.trace_id = seen.once(5, field_of(scan, "trace_id", Scanner::string_or_null))?;
            }
            "debug" => flat.debug = seen.once(6, scan.string_or_null())?,
            "description" => flat.description = seen.once(7, scan.string_or_null())?,
            "hint" => flat.hint = seen.once(8, scan.string_or_null())?,
            "status_code" => flat.status_code = seen.once(9, status(scan))?,
            _ => scan.skip_value()?,
        }
        Ok(())
    })?;
    scan.end()?;
    rec.error = error.map(|field| match field {
        ErrorField::Object(info) => info,
        ErrorField::Text(code) => ErrorInfo {
            message: Some(code),
            reason: flat.hint,
            debug: flat.debug,
            description: flat.description,
            status_code: flat.status_code,
        },
    });
    Ok(rec)
}

/// logrusx's `error` map, or the flat shape's error code.
fn error_field<'t>(scan: &mut Scanner<'t>) -> Scanned<Option<ErrorField<'t>>> {
    match scan.peek() {
        Some(b'{') => {}
        Some(b'"') => return Ok(Some(ErrorField::Text(scan.string()?))),
        _ if scan.null() => return Ok(None),
        _ => return Err(Unusual),
    }
    let mut info = ErrorInfo::default();
    let mut seen = Seen::default();
    scan.object(|scan, key| {
        match key {
            "message" => info.message = seen.once(0, scan.string_or_null())?,
            "reason" => info.reason = seen.once(1, scan.string_or_null())?,
            "debug" => info.debug = seen.once(2, scan.string_or_null())?,
            "status_code" => info.status_code = seen.once(3, status(scan))?,
            _ => scan.skip_value()?,
        }
        Ok(())
    })?;
    Ok(Some(ErrorField::Object(info)))
}

/// Whether the value here is an object to read (`null` reads as absent).
fn is_object(scan: &mut Scanner<'_>) -> Scanned<bool> {
    match scan.peek() {
        Some(b'{') => Ok(true),
        _ if scan.null() => Ok(false),
        _ => Err(Unusual),
    }
}

fn request<'t>(scan: &mut Scanner<'t>, rec: &mut Record<'t>) -> Scanned<()> {
    if !is_object(scan)? {
        return Ok(());
    }
    let mut seen = Seen::default();
    scan.object(|scan, key| {
        match key {
            "headers" => seen.once(0, headers(scan, rec))?,
            "method" => rec.method = seen.once(1, scan.string_or_null())?,
            "path" => rec.path = seen.once(2, scan.string_or_null())?,
            "query" => rec.query = seen.once(3, scan.string_or_null())?,
            "remote" => rec.remote = seen.once(4, scan.string_or_null())?,
            _ => scan.skip_value()?,
        }
        Ok(())
    })
}

fn headers<'t>(scan: &mut Scanner<'t>, rec: &mut Record<'t>) -> Scanned<()> {
    if !is_object(scan)? {
        return Ok(());
    }
    let mut seen = Seen::default();
    scan.object(|scan, key| {
        match key {
            "user-agent" => rec.user_agent = seen.once(0, scan.string_or_null())?,
            "x-request-id" => rec.request_id = seen.once(1, scan.string_or_null())?,
            _ => scan.skip_value()?,
        }
        Ok(())
    })
}

/// The one field `name` of an object (`null` reads as absent), read by
/// `read`; the object's other fields passed over.
fn field_of<'t, T>(
    scan: &mut Scanner<'t>,
    name: &str,
    read: impl Fn(&mut Scanner<'t>) -> Scanned<Option<T>>,
) -> Scanned<Option<T>> {
    let mut found = None;
    if !is_object(scan)? {
        return Ok(found);
    }
    let mut seen = Seen::default();
    scan.object(|scan, key| {
        if key == name {
            found = seen.once(0, read(scan))?;
        } else {
            scan.skip_value()?;
        }
        Ok(())
    })?;
    Ok(found)
}

/// A status code as `json.rs`'s `status` reads a value: a non-negative
/// integer, or a string holding one; any other number, `true`, `false` or
/// `null` is none; an object or array is unusual.
fn status(scan: &mut Scanner<'_>) -> Scanned<Option<u16>> {
    let n = match scan.peek() {
        Some(b'"') => scan.string()?.trim().parse::<u64>().ok(),
        Some(b'-' | b'0'..=b'9') => scan.integer()?.parse::<u64>().ok(),
        Some(b't' | b'f' | b'n') => scan.skip_value().map(|()| None)?,
        _ => return Err(Unusual),
    };
    Ok(n.and_then(|n| u16::try_from(n).ok()))
}

#[cfg(test)]
#[path = "json_fast_tests.rs"]
mod tests;
