//! Rails lograge lines, key=value and JSON.

use crate::event::Event;
use crate::format::{Context, LineParser, Outcome};

/// Parser state for this format.
#[derive(Debug, Default)]
pub struct LogrageParser {}

impl LineParser for LogrageParser {
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
