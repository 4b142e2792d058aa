//! What one Hydra line says ([`Record`], with the error it reports,
//! [`ErrorInfo`]), whichever of its two formats wrote it: `json.rs` and
//! `text.rs` read a line into it, `mod.rs` turns it into events. A leaf, so
//! that the two readers and `mod.rs` do not import each other.

use std::borrow::Cow;

/// The error a line reports (logrusx `error` map, or the old flat shape).
#[derive(Debug, Default, PartialEq)]
pub(super) struct ErrorInfo<'t> {
    pub(super) message: Option<Cow<'t, str>>,
    pub(super) reason: Option<Cow<'t, str>>,
    pub(super) debug: Option<Cow<'t, str>>,
    pub(super) description: Option<Cow<'t, str>>,
    pub(super) status_code: Option<u16>,
}

/// What one Hydra line says, whichever format wrote it.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Record<'t> {
    pub(super) time: Option<Cow<'t, str>>,
    pub(super) msg: Option<Cow<'t, str>>,
    pub(super) error: Option<ErrorInfo<'t>>,
    pub(super) method: Option<Cow<'t, str>>,
    pub(super) path: Option<Cow<'t, str>>,
    pub(super) query: Option<Cow<'t, str>>,
    pub(super) remote: Option<Cow<'t, str>>,
    pub(super) user_agent: Option<Cow<'t, str>>,
    pub(super) request_id: Option<Cow<'t, str>>,
    pub(super) trace_id: Option<Cow<'t, str>>,
    pub(super) response_status: Option<u16>,
}
