//! Each envelope on lines as the runtime writes them (sources named per
//! test), the split cases joined, stacking, and the application lines that
//! must never be taken for an envelope.

use super::*;
use crate::parser::Context;
use chrono::{DateTime, Utc};

fn ctx() -> Context {
    Context {
        assumed_year: Some(2025),
        ..Context::default()
    }
}

/// Every record the lines carry, as (line, text, meta).
fn unwrap_all(lines: &[&str]) -> (Vec<Record<'static>>, Unwrapper) {
    let mut unwrapper = Unwrapper::new();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let mut records = Vec::new();
        unwrapper.unwrap(i as u64 + 1, line, &ctx(), &mut records);
        out.extend(records.into_iter().map(Record::into_owned));
    }
    unwrapper.flush(&ctx(), &mut out);
    (out, unwrapper)
}

fn one(line: &str) -> Record<'static> {
    let (records, _) = unwrap_all(&[line]);
    assert_eq!(records.len(), 1, "{records:#?}");
    records.into_iter().next().unwrap_or_else(|| unreachable!())
}

fn time(text: &str) -> Option<DateTime<Utc>> {
    Some(
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .with_timezone(&Utc),
    )
}

#[test]
fn cri_lines_and_partial_lines_joined_up_to_f() {
    // The shapes of the CRI logging proposal (kubernetes
    // design-proposals-archive, node/kubelet-cri-logging.md) as the kubelet
    // writes /var/log/pods/*/*/0.log.
    let (records, u) = unwrap_all(&[
        "2016-10-06T00:17:09.669794202Z stdout F The content of the log entry 1",
        "2016-10-06T00:17:09.669794203Z stderr P First part of log entry 2 ",
        "2016-10-06T00:17:09.669794204Z stdout F Interleaved stdout entry",
        "2016-10-06T00:17:09.669794205Z stderr P second part ",
        "2016-10-06T00:17:09.669794206Z stderr F and the end",
        "2016-10-06T00:17:10.000000000Z stdout F",
    ]);
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_ref()).collect();
    assert_eq!(
        texts,
        [
            "The content of the log entry 1",
            "Interleaved stdout entry",
            "First part of log entry 2 second part and the end",
            "",
        ]
    );
    assert_eq!(
        records[2].line_no, 2,
        "a joined line starts where its first piece did"
    );
    assert_eq!(records[2].meta.stream, Some(Stream::Stderr));
    assert_eq!(
        records[0].meta.time.get(),
        time("2016-10-06T00:17:09.669794202Z")
    );
    assert_eq!(u.main_envelope(), Some(EnvelopeKind::Cri));
}

#[test]
fn the_quiet_paths_cri_text_is_the_whole_piece_peel_takes() {
    // The runtime's shape, in range and out of it, and the shapes the word
    // reader takes or refuses: the quiet path's text, measuring the time
    // only, is the whole piece's text `peel_cri` gives, or nothing.
    for line in [
        "2025-03-11T08:00:00.000000001Z stdout F I, [2025-03-11T09:00:00.000000 #9]  INFO -- : x",
        "2024-02-29T23:59:59.999999999Z stderr F:x text",
        "2025-03-30T08:00:00.000000001Z stdout F",
        "2025-13-11T08:00:00.000000001Z stdout F month 13",
        "2025-03-11T24:00:00.000000001Z stdout F hour 24",
        "2025-03-11T08:00:60.000000001Z stdout F second 60",
        "2025-03-11T08:00:00.000000001Z stdout P a piece",
        "2025-03-11T08:00:00.1Z stdout F a short fraction",
        "2025-03-11T08:00:00.000000001+01:00 stdout F an offset",
        "2025-03-11T08:00:00Z stdout F no fraction",
        "2025-03-11T08:00:00.000000001Z stdin F no stream",
        "2025-03-11T08:00:00.000000001Zstdout F no space",
    ] {
        let mut pieces = Pieces::new();
        let whole = container::peel_cri(line, &mut pieces)
            .and_then(|_| pieces.first())
            .filter(|p| !p.partial)
            .map(|p| p.text.to_string());
        assert_eq!(
            container::whole_cri_text(line).map(str::to_string),
            whole,
            "{line}"
        );
    }
}

#[test]
fn a_long_p_chain_is_bounded_and_counted() {
    let piece = format!("2025-03-11T08:00:00.1Z stdout P {}", "x".repeat(64 * 1024));
    let mut lines: Vec<&str> = vec![piece.as_str(); 20];
    lines.push("2025-03-11T08:00:00.2Z stdout F end");
    let (records, u) = unwrap_all(&lines);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].text.len(), joiner::MAX_JOINED);
    assert!(u.lines_cut() > 0);
}

#[test]
fn a_held_piece_pins_the_checkpoint_until_its_end() {
    let mut u = Unwrapper::new();
    let mut out = Vec::new();
    u.unwrap(7, "2025-03-11T08:00:00.1Z stdout P part ", &ctx(), &mut out);
    assert!(out.is_empty());
    assert_eq!(u.oldest_pending_line(), Some(7));
    u.unwrap(8, "2025-03-11T08:00:00.2Z stdout F two", &ctx(), &mut out);
    assert_eq!(out[0].text, "part two");
    assert_eq!(u.oldest_pending_line(), None);
}

#[test]
fn docker_json_file_and_its_16k_split() {
    // docker's json-file driver (docs.docker.com/engine/logging/drivers/
    // json-file): one object per line, `log` ends with the newline; a line
    // over 16 KiB is split into pieces without it.
    let (records, u) = unwrap_all(&[
        r#"{"log":"Log line is here\n","stream":"stdout","time":"2019-01-01T11:11:11.111111111Z"}"#,
        r#"{"log":"first half of a long line, ","stream":"stderr","time":"2019-01-01T11:11:12.0Z"}"#,
        r#"{"log":"second half\n","stream":"stderr","time":"2019-01-01T11:11:12.1Z"}"#,
    ]);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].text, "Log line is here");
    assert_eq!(
        records[0].meta.time.get(),
        time("2019-01-01T11:11:11.111111111Z")
    );
    assert_eq!(records[1].text, "first half of a long line, second half");
    assert_eq!(records[1].line_no, 2);
    assert_eq!(u.main_envelope(), Some(EnvelopeKind::DockerJson));
}

#[test]
fn kubectl_prefix_and_timestamps() {
    let r = one("[pod/web-7d9f8c6b5-x2x7q/web] I, [2025-03-11T09:41:07.318220 #1]  INFO -- : hi");
    assert_eq!(r.meta.pod.as_deref(), Some("web-7d9f8c6b5-x2x7q"));
    assert_eq!(r.meta.container.as_deref(), Some("web"));
    assert!(r.text.starts_with("I, ["));
    // `kubectl logs --timestamps` writes RFC3339Nano (trailing zeros cut).
    let r = one("2025-03-11T09:41:07.31822Z Started POST \"/oauth/token\" for 10.0.0.1");
    assert_eq!(r.envelope, Some(EnvelopeKind::Timestamped));
    assert_eq!(r.text, "Started POST \"/oauth/token\" for 10.0.0.1");
    // A Java line's own time after the envelope's is not a syslog host.
    let r =
        one("2025-03-11T09:00:00.000000000Z 2025-04-10 06:00:03,118 INFO  [io.quarkus] (main) x");
    assert_eq!(r.envelope, Some(EnvelopeKind::Timestamped));
    assert_eq!(
        r.text,
        "2025-04-10 06:00:03,118 INFO  [io.quarkus] (main) x"
    );
    // Both: the prefix, then the time.
    let r = one("[pod/web-1/web] 2025-03-11T09:41:07.318220123Z {\"level\":\"info\"}");
    assert_eq!(r.text, "{\"level\":\"info\"}");
    assert_eq!(r.meta.pod.as_deref(), Some("web-1"));
    assert!(r.meta.time.get().is_some());
}

#[test]
fn journald_json_with_a_byte_array_message() {
    // `journalctl -o json`: MESSAGE is an array of bytes when it is not
    // valid UTF-8 or holds control characters (systemd.journal-fields(7)).
    let (records, u) = unwrap_all(&[
        r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1741686067318220","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"puma","_PID":"812","_SYSTEMD_UNIT":"puma.service","MESSAGE":"Completed 400 Bad Request in 19ms"}"#,
        r#"{"__REALTIME_TIMESTAMP":"1741686067318221","_HOSTNAME":"web1","MESSAGE":[105,110,118,97,108,105,100,95,103,114,97,110,116,27]}"#,
    ]);
    assert_eq!(records[0].text, "Completed 400 Bad Request in 19ms");
    assert_eq!(records[0].meta.host.as_deref(), Some("web1"));
    assert_eq!(records[0].meta.unit.as_deref(), Some("puma.service"));
    assert_eq!(records[0].meta.pid.as_deref(), Some("812"));
    assert_eq!(
        records[0].meta.time.get(),
        time("2025-03-11T09:41:07.318220Z")
    );
    assert_eq!(records[1].text, "invalid_grant\u{1b}");
    assert_eq!(u.main_envelope(), Some(EnvelopeKind::JournalJson));
}

#[test]
fn journal_short_forms_and_rfc3164() {
    // RFC 3164 §5.4's example, with and without <PRI>; journalctl -o short,
    // short-precise and short-iso.
    let r = one("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(r.text, "'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(r.meta.host.as_deref(), Some("mymachine"));
    assert_eq!(r.meta.time.get(), time("2025-10-11T22:14:15Z"));
    let r = one("Mar 11 09:41:07 web1 puma[812]: Completed 400 Bad Request in 19ms");
    assert_eq!(r.meta.unit.as_deref(), Some("puma"));
    assert_eq!(r.meta.pid.as_deref(), Some("812"));
    let r = one("Mar  1 09:41:07.318220 web1 puma[812]: x");
    assert_eq!(r.meta.time.get(), time("2025-03-01T09:41:07.318220Z"));
    let r = one("2025-03-11T09:41:07+0000 web1 puma[812]: x");
    assert_eq!(r.envelope, Some(EnvelopeKind::Syslog3164));
    assert_eq!(r.meta.time.get(), time("2025-03-11T09:41:07Z"));
    let r = one("2025-03-11T09:41:07.318220+01:00 web1 keycloak[9]: y");
    assert_eq!(r.meta.time.get(), time("2025-03-11T08:41:07.318220Z"));
}

#[test]
fn rfc5424_with_structured_data_bom_and_octet_count() {
    // RFC 5424 §6.5, examples 1 and 3.
    let r = one(
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8",
    );
    assert_eq!(r.text, "'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(r.meta.unit.as_deref(), Some("su"));
    let r = one(
        r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry..."#,
    );
    assert_eq!(r.text, "An application event log entry...");
    let r = one(r#"<165>1 2003-10-11T22:14:15.003Z host app 12 - [a@1 x="q\]w"][b@2 y="z"] msg"#);
    assert_eq!(r.text, "msg");
    assert_eq!(r.meta.pid.as_deref(), Some("12"));
    let r = one("87 <134>1 2025-03-11T09:41:07.318Z web1 puma 812 - - Completed 400 Bad Request");
    assert_eq!(r.text, "Completed 400 Bad Request");
    assert_eq!(r.envelope, Some(EnvelopeKind::Syslog5424));
}

#[test]
fn compose_overmind_and_foreman() {
    let r = one("keycloak-1  | 2025-03-11 09:10:32,093 WARN  [org.keycloak.events] x");
    assert_eq!(r.meta.pod.as_deref(), Some("keycloak-1"));
    assert_eq!(
        r.text,
        "2025-03-11 09:10:32,093 WARN  [org.keycloak.events] x"
    );
    let r = one("keycloak  | y");
    assert_eq!(r.envelope, Some(EnvelopeKind::Compose));
    let r = one("12:00:01 web.1  | Started POST \"/oauth/token\" for ::1");
    assert_eq!(r.envelope, Some(EnvelopeKind::Foreman));
    assert_eq!(r.meta.pod.as_deref(), Some("web.1"));
    assert_eq!(r.text, "Started POST \"/oauth/token\" for ::1");
}

#[test]
fn heroku_fly_and_aws_logs_tail() {
    // Heroku's logging article (devcenter.heroku.com/articles/logging).
    let r = one(
        "2010-09-16T15:13:46.677020+00:00 app[web.1]: Processing PostController#list (for 208.39.138.12 at 2010-09-16 15:13:46) [GET]",
    );
    assert_eq!(r.envelope, Some(EnvelopeKind::Heroku));
    assert_eq!(r.meta.pod.as_deref(), Some("web.1"));
    assert!(r.text.starts_with("Processing PostController"));
    let r = one(
        "2010-09-16T15:13:47.893472+00:00 heroku[router]: at=info method=GET path=\"/posts\" host=myapp.herokuapp.com fwd=\"204.204.204.204\" dyno=web.1 connect=1ms service=18ms status=200 bytes=975",
    );
    assert_eq!(r.meta.unit.as_deref(), Some("heroku"));
    assert_eq!(r.meta.pod.as_deref(), Some("router"));
    let r = one(
        "2023-06-13T12:00:00Z app[e784e90eb32208] iad [info] I, [2023-06-13T12:00:00.1 #1]  INFO -- : x",
    );
    assert_eq!(r.envelope, Some(EnvelopeKind::Fly));
    assert!(r.text.starts_with("I, ["));
    let r = one(
        "2021-03-22T17:53:04.662000+00:00 2021/03/22/[$LATEST]0c1d7e5c2a6f4e7b {\"error\":\"invalid_grant\"}",
    );
    assert_eq!(r.envelope, Some(EnvelopeKind::CloudWatchTail));
    assert_eq!(r.text, "{\"error\":\"invalid_grant\"}");
    // Rows copied from the console, as posted in nextauthjs/next-auth#5864.
    let r = one("|2022-11-20T17:15:23.858-08:00 | [next-auth][error][OAUTH_CALLBACK_ERROR]");
    assert_eq!(r.envelope, Some(EnvelopeKind::CloudWatchTail));
    assert_eq!(r.text, "[next-auth][error][OAUTH_CALLBACK_ERROR]");
    let time = r.meta.time.get().expect("the row's time");
    assert_eq!(time.to_rfc3339(), "2022-11-21T01:15:23.858+00:00");
    let r = one("| 2022-11-20T17:15:23.858-08:00 | error: OPError: invalid_request");
    assert_eq!(r.text, "error: OPError: invalid_request");
    // A table of the application's own is no row of the console's.
    assert_eq!(one("| status | 400 |").envelope, None);
}

#[test]
fn shipper_records_vector_fluent_bit_otel() {
    let r = one(
        r#"{"file":"/var/log/pods/default_web-1_0/web/0.log","host":"node-1","kubernetes":{"container_name":"web","pod_name":"web-1","pod_namespace":"default"},"message":"Completed 400 Bad Request in 19ms","source_type":"kubernetes_logs","stream":"stdout","timestamp":"2025-03-11T09:41:07.318220Z"}"#,
    );
    assert_eq!(r.envelope, Some(EnvelopeKind::Vector));
    assert_eq!(r.meta.pod.as_deref(), Some("web-1"));
    assert_eq!(r.meta.host.as_deref(), Some("node-1"));
    let r = one(
        r#"{"date":1741686067.31822,"log":"Completed 400 Bad Request in 19ms","stream":"stdout","kubernetes":{"pod_name":"web-2","container_name":"web","host":"node-2"}}"#,
    );
    assert_eq!(r.envelope, Some(EnvelopeKind::FluentBit));
    assert_eq!(r.meta.host.as_deref(), Some("node-2"));
    let r = one(
        r#"kube.var.log.containers.web-2_default_web-1.log: [1741686067.318220000, {"log":"x","stream":"stdout"}]"#,
    );
    assert_eq!(r.envelope, Some(EnvelopeKind::FluentBit));
    assert_eq!(r.text, "x");
    let (records, _) = unwrap_all(&[
        r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"keycloak"}},{"key":"k8s.pod.name","value":{"stringValue":"kc-0"}}]},"scopeLogs":[{"scope":{},"logRecords":[{"timeUnixNano":"1741686067318220000","body":{"stringValue":"first"}},{"observedTimeUnixNano":"1741686067318221000","body":{"stringValue":"second"}}]}]}]}"#,
    ]);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].text, "second");
    assert_eq!(records[0].meta.unit.as_deref(), Some("keycloak"));
    assert_eq!(records[0].meta.pod.as_deref(), Some("kc-0"));
    assert_eq!(
        records[0].meta.time.get(),
        time("2025-03-11T09:41:07.318220Z")
    );
}

#[test]
fn cloudwatch_documents_and_arrays_read_record_by_record() {
    let doc = r#"{"events":[{"logStreamName":"web/1","timestamp":1741686067318,"message":"one\n","ingestionTime":1741686068000,"eventId":"1"},{"logStreamName":"web/2","timestamp":1741686067319,"message":"two","eventId":"2"}],"searchedLogStreams":[]}"#;
    let (records, _) = unwrap_all(&[doc]);
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_ref()).collect();
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(records[1].meta.unit.as_deref(), Some("web/2"));
    let (records, _) = unwrap_all(&[
        r#"[{"timestamp":1741686067318,"message":"a"},{"timestamp":1741686067319,"message":"b"}]"#,
    ]);
    assert_eq!(records.len(), 2);
}

#[test]
fn envelopes_stack_innermost_fields_win() {
    // rsyslog forwarding a CRI file line.
    let r = one(
        "<134>Mar 11 09:41:07 node-1 kubelet: 2025-03-11T09:41:07.318220123Z stdout F Completed 400 Bad Request",
    );
    assert_eq!(r.text, "Completed 400 Bad Request");
    assert_eq!(r.envelope, Some(EnvelopeKind::Syslog3164));
    assert_eq!(r.meta.host.as_deref(), Some("node-1"));
    assert_eq!(r.meta.stream, Some(Stream::Stdout));
    assert_eq!(r.meta.time.get(), time("2025-03-11T09:41:07.318220123Z"));
    // docker json-file carrying a CRI-shaped line in a Vector record.
    let r = one(
        r#"{"message":"2025-03-11T09:41:07.1Z stderr F inner","source_type":"file","host":"h"}"#,
    );
    assert_eq!(r.text, "inner");
    assert_eq!(r.meta.stream, Some(Stream::Stderr));
}

#[test]
fn a_file_may_change_envelope_half_way() {
    let (records, u) = unwrap_all(&[
        "2025-03-11T08:00:00.1Z stdout F a",
        r#"{"log":"b\n","stream":"stdout","time":"2025-03-11T08:00:01Z"}"#,
        "plain c",
    ]);
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_ref()).collect();
    assert_eq!(texts, ["a", "b", "plain c"]);
    assert_eq!(records[2].envelope, None);
    assert_eq!(u.lines_by_envelope().len(), 2);
}

#[test]
fn application_lines_are_not_envelopes() {
    // The formats grantwatch reads must pass through untouched.
    for line in [
        "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [8bcd97aa] Started POST \"/oauth/token\" for 10.0.3.235",
        "[8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1] Completed 400 Bad Request in 19ms (Views: 0.1ms | ActiveRecord: 5.8ms)",
        "2025-03-11 09:10:32,093 WARN  [org.keycloak.events] (executor-thread-11) type=\"CODE_TO_TOKEN_ERROR\"",
        "2024-01-15T10:30:00.123Z  INFO 1 --- [main] o.s.b.SpringApplication : Started",
        "2024-01-15T10:30:00.123Z ERROR 1 --- [nio-9000-exec-1] o.s.s.o.s.a.OAuth2TokenEndpointFilter : x",
        "2024-01-15T10:30:00.123+00:00 ERROR 1 --- [nio-9000-exec-1] c.e.Foo : x",
        r#"{"time":"2025-03-11T09:41:07Z","level":"error","msg":"access request failed","error":"invalid_grant"}"#,
        r#"{"timestamp":"2025-03-11T09:41:07.318Z","level":"WARN","loggerName":"org.keycloak.events","message":"type=\"CODE_TO_TOKEN_ERROR\""}"#,
        "time=\"2025-03-11T09:41:07Z\" level=error msg=\"token failed\"",
        "03-11 14:02:49.301  4388  4421 I flutter : login error",
        "2025-03-11 09:41:07.123 +00:00 [ERR] Silent token acquisition failed",
        "2025-03-11 09:41:07|ERROR|IdentityServer|Invalid authorization code",
        "INFO | token endpoint called",
        "2025-04-11T08:12:03.470Z ERROR sync: OAuth2::Error invalid_grant: Token is not active",
        "2025-04-11T08:12:03.470Z WARN sync: x",
        "Mar is a month and this is prose: nothing else",
    ] {
        let mut out = Pieces::new();
        assert_eq!(peel(line, None, &ctx(), &mut out), None, "{line}");
    }
}

#[test]
fn runtime_times_read_by_position_equal_chronos_reading() {
    for stamp in [
        "2025-03-11T08:00:00Z",
        "2025-03-11T08:00:00.123456789Z",
        "2025-03-11T08:00:00.1Z",
        "2025-03-11T08:00:00.12345678Z",
        "2025-03-11T08:00:00.1234567Z",
        "2025-03-11T08:00:00.654321+02:00",
        "2025-03-11T08:00:00.000000001Z",
        "2025-03-11T08:00:00.900000009Z",
        "2025-03-11T08:00:00.99999999Z",
        "2024-02-29T23:59:59.999+01:00",
        "2025-12-31T23:30:00-05:30",
        "2025-03-11T08:00:00.1234567891Z",
        "2016-12-31T23:59:60Z",
        "1969-12-31T23:59:59.5Z",
        "2000-02-29T00:00:00+14:00",
        "2100-03-01T12:00:00-12:00",
    ] {
        let text = format!("{stamp} stdout F x");
        let (ours, rest) = super::rfc3339_prefix(&text).expect(stamp);
        let chrono = chrono::DateTime::parse_from_rfc3339(stamp).expect(stamp);
        assert_eq!(ours, chrono.with_timezone(&chrono::Utc), "{stamp}");
        assert_eq!(rest, " stdout F x");
        // Kept packed as a runtime's time, it computes to the same instant
        // (a leap second and ten fraction digits are not kept packed).
        if let Some((packed, end)) = super::rfc3339_stamp(&text) {
            assert_eq!(&text[end..], " stdout F x", "{stamp}");
            assert_eq!(EnvelopeTime::Written(packed).get(), Some(ours), "{stamp}");
        } else {
            assert!(
                stamp.contains(":60") || stamp.contains(".1234567891"),
                "{stamp}"
            );
        }
    }
    // Shaped like a time but no instant: kept, computing to nothing.
    let (packed, _) = super::rfc3339_stamp("2025-02-30T08:00:00Z x").expect("the shape fits");
    assert_eq!(EnvelopeTime::Written(packed).get(), None);
    for bad in [
        "2025-02-30T08:00:00Z",
        "2025-03-11T25:00:00Z",
        "2025-03-11T08:00:00.Z",
        "2025-0a-11T08:00:00Z",
        "2025-03-11T08:0:000Z",
    ] {
        assert!(
            super::rfc3339_prefix(&format!("{bad} x")).is_none(),
            "{bad}"
        );
    }
}

#[test]
fn envelope_kinds_index_their_list() {
    for (i, kind) in ALL_ENVELOPES.iter().enumerate() {
        assert_eq!(*kind as usize, i, "{kind}");
    }
}

/// `peel::rules_out` answers for a line by its start: no line that starts
/// with a ruled-out head is taken for an envelope, whatever follows.
#[test]
fn a_head_ruled_out_is_in_no_envelope_whatever_follows() {
    let heads = [
        "I, [", "E, [2025", "Ma", "Mar", "Mar ", "{", "[", "<", "2", "a", "web |", " x", "-", "é",
        "",
    ];
    let tails = [
        "",
        " 11 08:00:00 host app[1]: x",
        "2025-03-11T08:00:00.123456789Z stdout F x",
        r#""log":"x\n","stream":"stdout","time":"2025-03-11T08:00:00Z"}"#,
        "34>1 2025-03-11T08:00:00Z host app - - - x",
        "pod/web-1] x",
        "eb | x",
    ];
    let mut ruled_out = 0;
    for head in heads {
        if !super::peel::rules_out(head) {
            continue;
        }
        ruled_out += 1;
        for tail in tails {
            let line = format!("{head}{tail}");
            let mut out = Pieces::new();
            assert_eq!(peel(&line, None, &ctx(), &mut out), None, "{line:?}");
        }
    }
    assert_eq!(ruled_out, 5, "I, [ / E, [2025 / space / dash / é");
    for head in ["{", "Mar ", "2", "a", "", "Ma"] {
        assert!(!super::peel::rules_out(head), "{head:?}");
    }
}
