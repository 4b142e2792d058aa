//! The runtimes' stamp read at once (`nano_utc_stamp`) against the word
//! reader.

use proptest::prelude::*;

use super::super::nano_stamp::LEN;
use super::{nano_utc_stamp, rfc3339_stamp, rfc3339_stamp_by_words, rfc3339_stamp_len};

/// A stamp of the runtime's shape: year, month, day, hour, minute,
/// second and the nine fraction digits.
fn stamp_of(
    (year, month, day, hour, minute, second): (u32, u32, u32, u32, u32, u32),
    nanos: u32,
) -> String {
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{nanos:09}Z")
}

/// A field's number: in `range` mostly, any two digits sometimes.
fn field(range: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = u32> {
    prop_oneof![4 => range, 1 => 0..100u32]
}

#[test]
fn the_runtimes_stamps_are_taken_at_once() {
    for text in [
        "2025-03-11T08:00:00.000000001Z stdout F x",
        "2024-02-29T23:59:59.999999999Z",
        "1969-12-31T23:59:59.500000000Zanything",
    ] {
        let fast = nano_utc_stamp(text.as_bytes());
        assert!(fast.is_some(), "{text}");
        assert_eq!(fast, rfc3339_stamp_by_words(text), "{text}");
    }
    // Other shapes are left to the word reader: it takes the first three
    // (eight fraction digits, a zone offset, none), refuses the last two
    // (ten digits, no zone), and `rfc3339_stamp` answers as it does.
    for (text, taken) in [
        ("2025-03-11T08:00:00.00000001Z x", true),
        ("2025-03-11T08:00:00.000000001+01:00", true),
        ("2025-03-11T08:00:00Z stdout F x", true),
        ("2025-03-11T08:00:00.0000000012Z", false),
        ("2025-03-11T08:00:00.000000001", false),
    ] {
        assert_eq!(nano_utc_stamp(text.as_bytes()), None, "{text}");
        let general = rfc3339_stamp_by_words(text);
        assert_eq!(general.is_some(), taken, "{text}");
        assert_eq!(rfc3339_stamp(text), general, "{text}");
    }
}

proptest! {
    /// Any stamp of the shape, its numbers in range or not, one byte
    /// changed or none, and anything after it: taken as the general
    /// reader takes it, or left to it; a stamp in range is taken.
    #[test]
    fn a_stamp_reads_as_the_general_reader_reads_it(
        fields in (0..10_000u32, field(1..=12), field(1..=31), field(0..=23), field(0..=59), field(0..=59)),
        nanos in 0..1_000_000_000u32,
        changed in proptest::option::of((0..LEN, 0u8..0x80)),
        after in "[ 0-9Z+:.a-z-]{0,4}",
    ) {
        let mut bytes = stamp_of(fields, nanos).into_bytes();
        if let Some((place, byte)) = changed {
            bytes[place] = byte;
        }
        let text = String::from_utf8(bytes).expect("ASCII") + &after;
        let fast = nano_utc_stamp(text.as_bytes());
        let general = rfc3339_stamp_by_words(&text);
        // Measured alone, a stamp ends where the reader ends it, or is
        // refused as the reader refuses it.
        prop_assert_eq!(rfc3339_stamp_len(&text), rfc3339_stamp(&text).map(|(_, end)| end));
        if fast.is_some() {
            prop_assert_eq!(fast, general);
        } else {
            prop_assert!(changed.is_some() || general.is_none(), "{text}: left over");
        }
    }
}
