//! Tests of the skip of listener lines by their type (`gives_no_event`,
//! `gives_no_event_in_json`): a line skipped is one the whole reading
//! gives no event for, in every shape the parser reads.

/// A line skipped by its type before it is read ([`event_line::gives_no_event`])
/// is one the whole reading would have given no event for: checked on
/// Keycloak's event types, quoted, bare, empty and `null`, with and
/// without a grant type and a code response type, and on generated lines.
mod skipped_by_type {
    use super::super::event_line::{gives_no_event, parse};
    use proptest::prelude::*;

    /// Keycloak's `EventType` names (26.x), and two that are no type.
    const TYPES: [&str; 24] = [
        "LOGIN",
        "LOGIN_ERROR",
        "REGISTER",
        "LOGOUT",
        "LOGOUT_ERROR",
        "CODE_TO_TOKEN",
        "CODE_TO_TOKEN_ERROR",
        "CLIENT_LOGIN",
        "CLIENT_LOGIN_ERROR",
        "REFRESH_TOKEN",
        "REFRESH_TOKEN_ERROR",
        "INTROSPECT_TOKEN",
        "INTROSPECT_TOKEN_ERROR",
        "USER_INFO_REQUEST",
        "TOKEN_EXCHANGE",
        "TOKEN_EXCHANGE_ERROR",
        "REVOKE_GRANT",
        "UPDATE_PASSWORD",
        "UPDATE_PROFILE",
        "PERMISSION_TOKEN",
        "OAUTH2_DEVICE_AUTH",
        "IDENTITY_PROVIDER_LOGIN_ERROR",
        "",
        "null",
    ];

    fn lines_of(event_type: &str) -> Vec<String> {
        let tails = [
            "",
            r#", grant_type="refresh_token""#,
            r#", response_type="code""#,
            r#", response_type="code id_token", grant_type="password""#,
            ", grant_type=authorization_code, error=invalid_code",
        ];
        let mut lines = Vec::new();
        for tail in tails {
            lines.push(format!(r#"type="{event_type}", clientId="app"{tail}"#));
            lines.push(format!("type={event_type}, clientId=app{tail}"));
        }
        lines
    }

    #[test]
    fn a_type_skipped_gives_no_event_whatever_follows() {
        let mut skipped = Vec::new();
        for event_type in TYPES {
            for line in lines_of(event_type) {
                if gives_no_event(&line) {
                    assert!(parse(&line).is_none(), "{line}");
                    skipped.push(event_type);
                }
            }
        }
        skipped.dedup();
        assert_eq!(
            skipped,
            [
                "REGISTER",
                "INTROSPECT_TOKEN",
                "USER_INFO_REQUEST",
                "UPDATE_PASSWORD",
                "UPDATE_PROFILE",
                "PERMISSION_TOKEN",
                "OAUTH2_DEVICE_AUTH"
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        #[test]
        fn generated_lines_skipped_give_no_event(
            body in "type=(\"|'|)(LOGIN|CODE_TO_TOKEN|REFRESH_TOKEN|INTROSPECT_TOKEN|[A-Z_2]{0,6})(-|\\.| |\"|)(_ERROR|)(\"|'|)([a-z_]{0,4}(=|, |,| |\"|'|code|grant_type=|response_type=|\\\\)){0,10}"
        ) {
            if gives_no_event(&body) {
                prop_assert!(parse(&body).is_none(), "{}", body);
            }
        }
    }
}

/// The parser with the skip by type gives, line for line, the events of a
/// reading without it (each line's shape told as `feed` tells it, then
/// redacted and read whole): on generated listener lines in the console's
/// text shape, bare, in Quarkus's JSON and in ECS, including JSON lines whose
/// first `"message":"` is not their own (a nested object's, or a key that
/// ends with an escaped quote).
mod skipped_as_read_whole {
    use super::super::*;
    use proptest::prelude::*;

    fn read_whole<'a>(line: &'a str, ctx: &Context) -> Vec<Event<'a>> {
        let shape = if is_json_console(line) {
            Shape::Json
        } else if is_bare_event(line) {
            Shape::Bare
        } else if let Some(header) = text_header(line, ctx, &mut SameSecond::default()) {
            Shape::Text(header)
        } else {
            return Vec::new();
        };
        let mut out = Vec::new();
        parse_record(1, line, shape, ctx, &mut out);
        out
    }

    fn fed<'a>(line: &'a str, ctx: &Context) -> Vec<Event<'a>> {
        let mut out = Vec::new();
        KeycloakParser::default().feed(1, line, ctx, &mut out);
        out
    }

    fn shapes(message: &str) -> Vec<String> {
        let json = serde_json::to_string(message).expect("a string");
        vec![
            format!(
                "2025-03-11 00:00:20,178 INFO  [org.keycloak.events] (executor-thread-47) {message}"
            ),
            message.to_string(),
            format!(
                r#"{{"timestamp":"2025-03-11T12:01:10.118Z","sequence":1,"loggerClassName":"org.jboss.logging.Logger","loggerName":"org.keycloak.events","level":"INFO","message":{json},"threadName":"t","mdc":{{}}}}"#
            ),
            format!(
                r#"{{"@timestamp":"2025-05-06T08:01:10.402Z","log.logger":"org.keycloak.events","log.level":"INFO","message":{json},"ecs.version":"1.12.2","service.name":"Keycloak"}}"#
            ),
        ]
    }

    fn assert_same(line: &str) {
        let ctx = Context::default();
        assert_eq!(
            format!("{:?}", fed(line, &ctx)),
            format!("{:?}", read_whole(line, &ctx)),
            "{line}"
        );
    }

    #[test]
    fn a_message_not_the_lines_own_is_not_taken_for_it() {
        let own = r#"type=\"CODE_TO_TOKEN\", realmId=\"r\", clientId=\"app\", grant_type=\"authorization_code\""#;
        let other = r#"type=\"INTROSPECT_TOKEN\", realmId=\"r\", clientId=\"rs\""#;
        let lines = [
            format!(
                r#"{{"timestamp":"2025-03-11T12:01:10.118Z","loggerName":"org.keycloak.events","mdc":{{"message":"{other}"}},"message":"{own}"}}"#
            ),
            format!(
                r#"{{"timestamp":"2025-03-11T12:01:10.118Z","loggerName":"org.keycloak.events","a\"message":"{other}","message":"{own}"}}"#
            ),
        ];
        for line in &lines {
            assert_eq!(fed(line, &Context::default()).len(), 1, "{line}");
            assert_same(line);
        }
    }

    #[test]
    fn introspections_are_skipped_in_every_shape() {
        let message = r#"type="INTROSPECT_TOKEN", realmId="r", clientId="rs", userId="null", ipAddress="10.20.6.186""#;
        for line in shapes(message) {
            let mut out = Vec::new();
            let outcome = KeycloakParser::default().feed(1, &line, &Context::default(), &mut out);
            assert_eq!((outcome, out.len()), (Outcome::Skipped, 0), "{line}");
            assert_same(&line);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn each_line_gives_what_reading_it_whole_gives(
            message in "type=(\"|'|)(LOGIN|CODE_TO_TOKEN|INTROSPECT_TOKEN|USER_INFO_REQUEST|[A-Z_2]{0,5})(-|\\.| |\"|)(_ERROR|)(\"|'|)((, |,| )(realmId|clientId|grant_type|response_type|error|reason)=(\"|'|)(code|app|refresh_token|invalid_code|a, b=c|x\"y|)(\"|'|)){0,5}"
        ) {
            for line in shapes(&message) {
                let ctx = Context::default();
                prop_assert_eq!(
                    format!("{:?}", fed(&line, &ctx)),
                    format!("{:?}", read_whole(&line, &ctx)),
                    "{}", line
                );
            }
        }
    }
}
