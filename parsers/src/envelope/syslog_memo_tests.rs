//! The quiet path's memo of a syslog line's start (`syslog::HeaderMemo`)
//! changes nothing: every line of any sequence reads as it reads alone.

use proptest::prelude::*;

use super::syslog::{HeaderMemo, quiet_parts};

/// Pieces lines are made of: starts that share bytes with each other in
/// many ways (same second or not, a host or tag that is a prefix of
/// another, a colon in the host, no space after the tag, things that are
/// not syslog at all), and texts that start with what a tag could hold.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Mar 11 09:00:00".to_string()),
        Just("Mar 11 09:00:01".to_string()),
        Just("Mar  1 09:00:00".to_string()),
        Just("Mar 11 09:00:00.25".to_string()),
        Just("Mar 11 25:00:00".to_string()),
        Just("Foo 11 09:00:00".to_string()),
        Just(" ".to_string()),
        Just(":".to_string()),
        Just("web1".to_string()),
        Just("web".to_string()),
        Just("w:b".to_string()),
        Just("2025-03-11".to_string()),
        Just("rails[4711]".to_string()),
        Just("rails[47".to_string()),
        Just("rails".to_string()),
        Just("9rails".to_string()),
        Just("a=b".to_string()),
        Just("\"x\"".to_string()),
        Just("Started GET".to_string()),
        Just("é".to_string()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..9).prop_map(|p| p.concat())
}

/// Lines with the usual header, varied only where lines of one log vary.
fn header_line() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["09:00:00", "09:00:01"]),
        prop::sample::select(vec!["web1", "web12", "w:1"]),
        prop::sample::select(vec!["rails[4711]", "rails[4712]", "rails", "sshd[1]"]),
        prop::sample::select(vec![": ", ":", ":  ", "::", ": é", ""]),
        line(),
    )
        .prop_map(|(clock, host, tag, colon, text)| {
            format!("Mar 11 {clock} {host} {tag}{colon}{text}")
        })
}

proptest! {
    #[test]
    fn a_line_reads_as_it_reads_alone(
        lines in prop::collection::vec(prop_oneof![header_line(), line()], 1..40)
    ) {
        let mut memo = HeaderMemo::default();
        for line in &lines {
            let alone = quiet_parts(line, &mut HeaderMemo::default());
            prop_assert_eq!(quiet_parts(line, &mut memo), alone, "{:?}", line);
        }
    }
}

/// The memo is used: after a line is read in full, a line of the same
/// second and program is read from the memo alone, its text starting after
/// the one space; a line of another program is not.
#[test]
fn a_line_of_the_same_start_is_read_from_the_memo() {
    let mut memo = HeaderMemo::default();
    let first = "Mar 11 09:00:00 web1 rails[4711]: I, one";
    assert_eq!(
        quiet_parts(first, &mut memo),
        Some(("web1", "rails", "I, one"))
    );
    assert_eq!(
        memo.parts_of("Mar 11 09:00:00 web1 rails[4711]:  D, two"),
        Some(("web1", "rails", " D, two"))
    );
    assert_eq!(memo.parts_of("Mar 11 09:00:00 web1 sshd[1]: x"), None);
}
