//! A timestamp read again for the lines of one second: a server writes
//! many lines a second (a Keycloak log about thirty), each led by the same
//! `YYYY-MM-DD HH:MM:SS`, and reading the date, the time and the assumed
//! zone of each was about a fiftieth of a Keycloak log's instructions
//! (benches/README.md). Here the first line of a second is read whole and
//! its second's instant kept; the next lines that start with the same
//! nineteen bytes read only their fraction and what follows.
//!
//! Invariant: [`SameSecond::timestamp`] gives what [`super::timestamp`]
//! gives for the same text and context.

use chrono::{DateTime, Duration, FixedOffset, Timelike, Utc};

use super::{fraction, zone};
use crate::event::{TimeBasis, Timestamp};
use crate::parser::Context;

/// Bytes of `YYYY-MM-DD HH:MM:SS` (or with `T`).
const HEAD: usize = 19;

/// The second the last zone-less timestamp fell in, by the bytes that
/// wrote it, and the zone it was assumed in.
#[derive(Debug, Default)]
pub struct SameSecond {
    head: [u8; HEAD],
    second: Option<(DateTime<Utc>, FixedOffset)>,
}

impl SameSecond {
    /// [`super::timestamp`], the date and time to the second taken from
    /// the last text when this one starts with the same nineteen bytes, no
    /// zone follows and the context assumes the same zone.
    pub fn timestamp<'t>(&mut self, text: &'t str, ctx: &Context) -> Option<(Timestamp, &'t str)> {
        let bytes = text.as_bytes();
        if let (Some(head), Some((second, offset))) = (bytes.get(..HEAD), self.second)
            && head == self.head
            && offset == ctx.assumed_offset
        {
            // The head's bytes were read before: ASCII, a boundary after.
            let (nanos, end) = fraction(&bytes[HEAD - 8..]);
            let rest = &text[HEAD - 8 + end..];
            if zone(rest).is_none() {
                let utc = second + Duration::nanoseconds(i64::from(nanos));
                let basis = TimeBasis::AssumedZone;
                return Some((Timestamp { utc, basis }, rest));
            }
        }
        let read = super::timestamp(text, ctx)?;
        if read.0.basis == TimeBasis::AssumedZone
            && let Some(head) = bytes.get(..HEAD)
        {
            self.head.copy_from_slice(head);
            let second = read.0.utc.with_nanosecond(0);
            self.second = second.map(|s| (s, ctx.assumed_offset));
        }
        Some(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines read in turn with one memo give what each gives alone: seconds
    /// repeated and changed, fractions of every length and none, a comma
    /// or a dot, zones after some, a `T`, an hour past the day's end, a
    /// leap second, the assumed zone changed between two lines, texts too
    /// short or off the shape.
    #[test]
    fn the_lines_of_a_second_read_as_each_alone() {
        let texts = [
            "2025-03-11 00:00:20,037 INFO  x",
            "2025-03-11 00:00:20,9 INFO  x",
            "2025-03-11 00:00:20 INFO  x",
            "2025-03-11 00:00:20,123456789123 x",
            "2025-03-11 00:00:20. x",
            "2025-03-11 00:00:20,037Z x",
            "2025-03-11 00:00:20.5 +02:00 x",
            "2025-03-11 00:00:20,500 UTC",
            "2025-03-11 00:00:20,037",
            "2025-03-11 00:00:21,000 INFO",
            "2025-03-11T00:00:21,001 INFO",
            "2025-03-11 00:00:21,002 INFO",
            "2025-03-11 23:59:60,250 INFO",
            "2025-03-11 23:59:60,750 INFO",
            "2025-03-11 24:00:00,000 INFO",
            "2025-02-30 00:00:21,003 INFO",
            "2025-03-11 00:00:2",
            "2025-03-11 00:00:21",
            "2025-03-11 00:00:21,",
            "2025-03-11 00:00:21,004 INFO é",
        ];
        let mut ctx = Context::default();
        let mut memo = SameSecond::default();
        for round in 0..2 {
            for (i, text) in texts.iter().enumerate() {
                if round == 1 && i == 1 {
                    ctx.assumed_offset = FixedOffset::east_opt(3_600).expect("an offset");
                }
                let alone = super::super::timestamp(text, &ctx);
                assert_eq!(
                    memo.timestamp(text, &ctx),
                    alone,
                    "{text:?} in round {round}"
                );
            }
        }
    }
}
