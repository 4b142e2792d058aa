//! Android logcat: flutter, AppAuth and MSAL tags.

use crate::event::Event;
use crate::format::{Context, LineParser, Outcome};

/// Parser state for this format.
#[derive(Debug, Default)]
pub struct LogcatParser {}

impl LineParser for LogcatParser {
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
