//! A record decodes to exactly the values `put_event` gave its columns
//! (its source alone too), whatever they are: integers of any size and
//! sign, texts of any length, runs of NULLs of any length, named texts past
//! the table's room; and a record cut short or run on is refused.

use std::borrow::Cow;

use grantwatch_parsers::{Event, EventKind, EvidenceLine, Format, GrantType, ServerKind};

use super::*;

/// What `put_event` gives each column, as owned values.
#[derive(Default)]
struct Given(Vec<(usize, Option<i64>, Option<String>)>);

impl Columns for Given {
    fn int(&mut self, column: usize, value: i64) -> rusqlite::Result<()> {
        self.0.push((column, Some(value), None));
        Ok(())
    }

    fn text(&mut self, column: usize, value: &str) -> rusqlite::Result<()> {
        self.0.push((column, None, Some(value.to_owned())));
        Ok(())
    }
}

/// The cells `put_event` gives `e` of `source_id`, owned.
fn given(source_id: i64, e: &Event<'_>) -> Vec<(usize, Option<i64>, Option<String>)> {
    let mut given = Given::default();
    put_event(&mut given, source_id, e).expect("put");
    given.0
}

/// The non-NULL cells of a decoded record, in the same shape.
fn cells_of(cells: &Cells<'_>) -> Vec<(usize, Option<i64>, Option<String>)> {
    cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match *c {
            Cell::Null => None,
            Cell::Int(v) => Some((i + 1, Some(v), None)),
            Cell::Text(t) => Some((i + 1, None, Some(t.to_owned()))),
        })
        .collect()
}

fn event(grant: &str, client: Option<&str>, line: u64) -> Event<'static> {
    let mut e = Event::new(EventKind::TokenResponse, Format::Keycloak);
    e.server = Some(ServerKind::Keycloak);
    e.grant_type = Some(GrantType::from_name(grant));
    e.client_id = client.map(|c| Cow::Owned(c.to_owned()));
    e.status = Some(400);
    e.error = Some(Cow::Borrowed("invalid_grant"));
    e.add_only_line(EvidenceLine {
        line,
        text: Cow::Borrowed("a line"),
    });
    e
}

#[test]
fn every_event_decodes_to_the_values_its_columns_were_given() {
    let mut names = Names::default();
    let mut records = Vec::new();
    // More distinct grant types than the table numbers: the last ones are
    // written whole, and the first ones still by number.
    for i in 0..300u64 {
        let grant = format!("urn:example:grant-{}", i % 280);
        let client = (i % 3 != 0).then(|| "é-client, \"quoted\"".repeat(i as usize % 5));
        let e = event(&grant, client.as_deref(), i * 1_000_003);
        let mut buf = Vec::new();
        encode(&mut buf, &mut names, (i as i64) - 150, &e).expect("encode");
        records.push((buf, given((i as i64) - 150, &e)));
    }
    assert_eq!(names.texts.len(), Names::MAX, "the table filled up");
    for (buf, want) in &records {
        assert_eq!(source_of(buf).ok(), want[0].1, "the source alone");
        assert_eq!(cells_of(&decode(buf, &names).expect("decode")), *want);
        assert_eq!(
            cells_of(&decode_encoded(buf, &names).expect("decode")),
            *want
        );
    }
}

#[test]
fn integers_of_any_size_and_sign_and_any_run_of_nulls_round_trip() {
    let mut names = Names::default();
    let values = [
        0,
        1,
        -1,
        63,
        -64,
        64,
        1 << 40,
        -(1 << 40),
        i64::MAX,
        i64::MIN,
    ];
    for (k, &value) in values.iter().enumerate() {
        // Columns 1 and `k + 2`, the rest NULL: runs of every length from
        // none to forty.
        for gap in [0, 1, 2, k, 40 - k] {
            let second = 2 + gap;
            let mut buf = Vec::new();
            let mut encoder = Encoder {
                buf: &mut buf,
                names: &mut names,
                next: 1,
            };
            encoder.int(1, value).expect("int");
            encoder.int(second, value.wrapping_neg()).expect("int");
            encoder.nulls_until(COLUMNS + 1);
            let cells = decode(&buf, &names).expect("decode");
            let want = vec![
                (1, Some(value), None),
                (second, Some(value.wrapping_neg()), None),
            ];
            assert_eq!(cells_of(&cells), want, "{value} and a gap of {gap}");
        }
    }
}

#[test]
fn a_record_cut_short_run_on_or_naming_an_unknown_text_is_refused() {
    let mut names = Names::default();
    let mut buf = Vec::new();
    encode(
        &mut buf,
        &mut names,
        1,
        &event("refresh_token", Some("app"), 7),
    )
    .expect("encode");
    assert!(decode(&buf, &names).is_ok());
    for cut in 0..buf.len() {
        assert!(decode(&buf[..cut], &names).is_err(), "cut at {cut}");
    }
    let mut longer = buf.clone();
    longer.push(NULL);
    assert!(decode(&longer, &names).is_err(), "a byte too many");
    let unknown = [NAME, 200, NULLS + 41];
    assert!(decode(&unknown, &names).is_err(), "no text numbered 200");
    let overlong = [NULLS + 43];
    assert!(
        decode(&overlong, &names).is_err(),
        "a run past the last column"
    );
}
