//! node-oidc-provider debug error lines and relying parties' OPError lines.

use crate::event::Event;
use crate::format::{Context, LineParser, Outcome};

/// Parser state for this format.
#[derive(Debug, Default)]
pub struct NodeOidcParser {}

impl LineParser for NodeOidcParser {
    fn feed<'a>(
        &mut self,
        _line_no: u64,
        _line: &'a str,
        _ctx: &Context,
        _out: &mut Vec<Event<'a>>,
    ) -> Outcome {
        Outcome::Unknown
    }

    fn flush<'a>(&mut self, _ctx: &Context, _out: &mut Vec<Event<'a>>) {}
}
