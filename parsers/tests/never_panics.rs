//! Never panics: every parser (every forced format, `Mixed` included) and
//! detection are fed hostile input: arbitrary bytes decoded lossily as the
//! daemon does, arbitrary strings, and lines built from real fragments of
//! each format cut and mixed with junk (CR, NUL, multi-byte characters at
//! boundaries), so that the parsers' deeper paths run on broken data; the
//! OAuth error extractor is fed the same lines and records joined from
//! them. One explicit test feeds 1 MiB lines.
//!
//! Case counts are kept small (the whole file runs in seconds in debug).

mod common;

use grantwatch_parsers::extract::extract;
use grantwatch_parsers::{Context, FileParser, Format, Redactor, detect};
use proptest::prelude::*;

use common::all_formats;

/// Prefixes and pieces of real lines of every format: parsers only reach
/// their deeper code when a line starts like theirs.
const FRAGMENTS: &[&str] = &[
    // Rails / lograge
    "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [",
    "D, [2025-03-11T09:41:07.318220 #7] DEBUG -- : [052ca018-5f55-4610-bb75-088318e6b486]   ",
    "052ca018-5f55-4610-bb75-088318e6b486] ",
    "Started POST \"/oauth/token\" for 10.0.3.31 at 2025-03-11 09:00:02 +0000",
    "Started GET \"/oauth/authorize?client_id=x&code_challenge=",
    "Processing by Doorkeeper::TokensController#create as */*",
    "  Parameters: {\"grant_type\"=>\"authorization_code\", \"code\"=>\"",
    "\"code_verifier\" => \"",
    "Redirected to com.example.app:/oauth2redirect?code=",
    "Completed 400 Bad Request in 11ms (Views: 0.2ms",
    "method=POST path=/oauth/token format=*/* status=400 params={\"code\"=>",
    "location=com.example.app:/cb?code=",
    "{\"method\":\"POST\",\"path\":\"/oauth/token\",\"status\":400,\"params\":{\"code\":\"",
    "{\"timestamp\":\"2025-03-16T10:02:13.861204Z\",\"level_index\":2,\"named_tags\":{\"request_id\":\"",
    "\"name\":\"Doorkeeper::TokensController\",\"message\":\"Completed #create\",\"payload\":{",
    // Hydra
    "{\"audience\":\"application\",\"error\":{",
    "\"debug\":\"\",\"message\":\"invalid_grant\",\"reason\":\"",
    "\"http_request\":{\"headers\":{\"x-request-id\":\"",
    "time=2025-03-14T08:12:44Z level=info msg=access denied audience=application error=map[",
    "http_request=map[headers:map[",
    "status_code:400] ",
    // Keycloak
    "2025-03-11 11:05:12,341 WARN  [org.keycloak.events] (executor-thread-27) ",
    "type=\"CODE_TO_TOKEN_ERROR\", ",
    "type=CODE_TO_TOKEN_ERROR, realmId=shop, clientId=",
    "error=invalid_code, reason=\"",
    "[org.keycloak.protocol.oidc.utils.OAuth2CodeParser] (executor-thread-27) Code '",
    "' already used for userSession '",
    "{\"timestamp\":\"2025-03-11T12:40:20.7Z\",\"loggerName\":\"org.keycloak.events\",\"message\":\"",
    "12:15:03,441 WARN  [org.keycloak.",
    "{\"@timestamp\":\"2025-05-06T08:01:11.307010455Z\",\"log.logger\":\"org.keycloak.events\",\"message\":\"",
    "\",\"ecs.version\":\"1.12.2\",\"service.name\":\"Keycloak\"}",
    "type=REFRESH_TOKEN_ERROR, realmId=3b8d2f61, clientId=",
    "\tat org.keycloak.authentication.AuthenticationProcessor",
    // node-oidc-provider
    "oidc-provider:error path=/token",
    "2025-06-03T11:20:44.512Z oidc-provider:error path=/token method=POST error={ error: '",
    "' } detail=",
    "  <-- POST /token",
    "  --> POST /token 400 9ms 79b",
    "error portal: callback failed OPError: invalid_grant (",
    "  error_description: '",
    // IdentityServer
    "[09:48:19 Error] Duende.IdentityServer.Validation.TokenRequestValidator",
    "fail: Duende.IdentityServer.Validation.TokenRequestValidator[0]",
    "      => SpanId:3c9e, TraceId:6b1f, RequestId:0HNB4K2Q9T1VA:00000003",
    ", details: {\"ClientId\": \"",
    "\"Raw\": {\"code\": \"",
    "2025-03-11 10:15:02.4873|0|INFO|Duende.IdentityServer.Validation.TokenRequestValidator|",
    "{\"@t\":\"2025-03-11T11:02:44.1841172Z\",\"@mt\":\"Refresh token validation failed. aborting, {@details}\",",
    "\"SourceContext\":\"Duende.IdentityServer.Validation.TokenRequestValidator\",\"details\":{",
    "2025-03-11 12:04:31,955 [14] ERROR Duende.IdentityServer.Validation.TokenRequestValidator - ",
    // Spring
    "2025-03-11T09:41:07.334Z  WARN 1 --- [auth-server] [nio-9000-exec-3] [67d0-1a2b] ",
    "2AuthorizationCodeAuthenticationProvider : ",
    "c.e.auth.web.TokenErrorLoggingFilter     : POST /oauth2/token -> 400 {\"error\":\"",
    "2025-03-11 11:15:44.902  WARN 1 --- [nio-9000-exec-3] o.s.s.o.s.a.a.",
    // logcat
    "03-11 09:41:07.413  4321  4360 I flutter : ",
    "I/flutter ( 9705): *** DioException ***:",
    "I/flutter ( 9705): ",
    "*** Request ***",
    "*** Response ***",
    "uri: https://auth.acme-field.com/oauth/token",
    "statusCode: 400",
    " www-authenticate: Bearer realm=\"Doorkeeper\", error=\"",
    "Response Text:",
    "{grant_type: refresh_token, refresh_token: ",
    "03-11 11:32:10.601  4388  4388 D AppAuth : ",
    "AuthorizationException: {\"type\":2,\"code\":2002,\"error\":\"",
    "PlatformException(authorize_and_exchange_code_failed, ",
    // iOS
    "2025-03-11 08:11:02.717342+0000 Runner[2817:1190331] flutter: ",
    "Error Domain=org.openid.appauth.oauth_token Code=-10 \"",
    "Error fetching fresh tokens: invalid_grant: ",
    // logfmt and tracing
    "time=\"2025-04-02T11:47:37Z\" level=error msg=\"",
    "Access Request failed with error: The provided authorization grant (e.g., ",
    " method=POST path=/api/oidc/token remote_ip=",
    "logger=authn.service t=2025-04-02T09:14:23.902Z level=error error=\"",
    "oauth2: \\\"invalid_grant\\\" \\\"",
    "oauth2: cannot fetch token: 400 Bad Request\\nResponse: {\\\"error\\\":\\\"",
    "error=map[message:invalid_grant reason:",
    "refresh token with id nbq5 claimed twice",
    "2025-04-03T10:12:45.902331Z ERROR token_refresh{a=1}: agent::auth: ",
    "StandardErrorResponse { error: InvalidGrant, error_description: Some(\"",
    // JSON lines and providers
    "{\"level\":50,\"time\":1741684887731,\"msg\":\"callback failed\",\"err\":{",
    "\"error\":\"invalid_grant\",\"error_description\":\"",
    "AADSTS54005: OAuth2 Authorization code was already redeemed",
    "{\"date\":\"2025-03-11T12:14:03.256Z\",\"type\":\"ferrt\",\"description\":\"",
    // The extractor's shapes
    "error=map[debug: message:invalid_grant reason:",
    " status_code:400]",
    "?error=invalid_grant&error_description=The+code%2",
    "{'error': 'invalid_grant', 'error_description': '",
    "{:error=>\"invalid_grant\", :error_description=>\"",
    "{{ \"error\": \"",
    "{ error = invalid_grant, error_description = ",
    "{\\\"error\\\":\\\"invalid_grant\\\",\\\"error_description\\\":\\\"",
    "oauth2: cannot fetch token: 400 Bad Request\nResponse: ",
    "HTTP/1.1 401 ",
    "OAuth2::Error, invalid_grant: ",
    "OPError: invalid_grant (",
    "RefreshError: ('invalid_grant: ",
    "MsalUiRequiredException: AADB2C90080: ",
    "OAuth2AuthenticationException: [invalid_request] ",
    "TokenResponseException: 400 Bad Request",
    "[error: null, description: ",
    "MSIS9611: ",
    "\"suberror\":\"bad_token\",\"error_uri\":\"",
    "\"error_codes\":[700082],",
    // Envelopes (and nested ones)
    "2025-03-11T08:00:00.123456789Z stdout F ",
    "2025-03-11T08:00:00.123456789Z stderr P ",
    "2025-03-11T08:00:00Z stdout F:x ",
    "{\"log\":\"",
    "\\n\",\"stream\":\"stdout\",\"time\":\"2025-03-11T08:00:00.1Z\"}",
    "{\"__REALTIME_TIMESTAMP\":\"1741686067318220\",\"MESSAGE\":[105,110,",
    "{\"MESSAGE\":\"",
    "<134>",
    "<165>1 2003-10-11T22:14:15.003Z host app 12 ID47 [a@1 x=\"q\\]w\"] ",
    "87 <134>1 ",
    "Mar 11 09:41:07 web1 puma[812]: ",
    "Mar  1 09:41:07.318220 ",
    "[pod/web-1/web] ",
    "web-1  | ",
    "12:00:01 web.1  | ",
    "2010-09-16T15:13:46.677020+00:00 app[web.1]: ",
    "2010-09-16T15:13:47.893472+00:00 heroku[router]: at=info method=POST path=\"/oauth/token\" status=400 ",
    "2023-06-13T12:00:00Z app[e784e90eb32208] iad [info] ",
    "2021-03-22T17:53:04.662000+00:00 web/1 ",
    "{\"message\":\"",
    "\",\"source_type\":\"kubernetes_logs\",\"kubernetes\":{\"pod_name\":\"",
    "{\"date\":1741686067.3,\"log\":\"",
    "kube.var.log.containers.web.log: [1741686067.3, {\"log\":\"",
    "{\"resourceLogs\":[{\"resource\":{\"attributes\":[",
    "\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"1741686067318220000\",\"body\":{\"stringValue\":\"",
    "{\"events\":[{\"logStreamName\":\"a\",\"timestamp\":1741686067318,\"message\":\"",
    // Pasted records
    "Response: {",
    "Traceback (most recent call last):",
    "  File \"/srv/a.py\", line 1, in f",
    "\tat org.example.Foo.bar(Foo.java:1)",
    "Caused by: ",
    " ---> ",
    "    from /app/lib/a.rb:12:in `call'",
    // Secrets and their markers
    "code=",
    "\"refresh_token\":\"",
    "code_verifier: ",
    "Authorization: Bearer ",
    "Basic ",
    "eyJhbGciOiJSUzI1NiJ9.eyJpYXQiOjE3MDAwMDAwMDB9.c2ln",
    "eyJ",
    "[REDACTED fp=",
    "%2",
    "%",
    // Structure
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\\"",
    "'",
    ": ",
    "=",
    "=>",
    ", ",
    " ",
    "\t",
    "\r",
    "\0",
    "\r\n",
    "é",
    "€",
    "😀",
    "\u{FFFD}",
    "\u{200B}",
];

/// One piece of a line: a real fragment, possibly cut at a byte offset
/// rounded down to a char boundary, or junk.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (prop::sample::select(FRAGMENTS), any::<prop::sample::Index>()).prop_map(
            |(f, cut)| {
                if cut.index(4) == 0 {
                    let mut end = cut.index(f.len() + 1);
                    while !f.is_char_boundary(end) {
                        end -= 1;
                    }
                    f[..end].to_owned()
                } else {
                    f.to_owned()
                }
            }
        ),
        1 => "[ -~]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
        1 => "[0-9:.T-]{1,10}",
    ]
}

/// A line built from fragments and junk.
fn fragment_line() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..12).prop_map(|p| p.concat())
}

/// A line of lossily decoded arbitrary bytes (invalid UTF-8 becomes U+FFFD,
/// as when the daemon reads a file).
fn byte_line() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..200)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Lines of one file: mostly fragment-built, some arbitrary.
fn file_lines() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            6 => fragment_line(),
            1 => byte_line(),
            1 => any::<String>(),
        ],
        0..24,
    )
}

/// Real sample files of every format: windows of them, mutated, reach the
/// multi-line record code (dio blocks, Rails requests, Duende details).
const SAMPLES: &[&str] = &[
    include_str!("../../sample_logs/rails/production.log"),
    include_str!("../../sample_logs/rails/lograge.log"),
    include_str!("../../sample_logs/rails/lograge.json.log"),
    include_str!("../../sample_logs/hydra/hydra-v2.3.json.log"),
    include_str!("../../sample_logs/hydra/hydra-v2.2.text.log"),
    include_str!("../../sample_logs/keycloak/keycloak-21.log"),
    include_str!("../../sample_logs/keycloak/keycloak.json.log"),
    include_str!("../../sample_logs/node-oidc-provider/provider.log"),
    include_str!("../../sample_logs/node-oidc-provider/relying-party.log"),
    include_str!("../../sample_logs/identityserver/aspnet-console.log"),
    include_str!("../../sample_logs/identityserver/duende-serilog.log"),
    include_str!("../../sample_logs/spring/auth-server.log"),
    include_str!("../../sample_logs/android/flutter-doorkeeper.logcat.txt"),
    include_str!("../../sample_logs/ios/console.log"),
    include_str!("../../sample_logs/json/app.jsonl"),
];

/// How one real line is damaged.
#[derive(Clone, Debug)]
enum Mutation {
    Keep,
    /// Cut at a byte offset (rounded down to a char boundary).
    Cut(prop::sample::Index),
    /// Insert a piece at a byte offset (rounded down to a char boundary).
    Insert(prop::sample::Index, String),
    /// Drop the line.
    Drop,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => Just(Mutation::Keep),
        2 => any::<prop::sample::Index>().prop_map(Mutation::Cut),
        2 => (any::<prop::sample::Index>(), piece()).prop_map(|(i, p)| Mutation::Insert(i, p)),
        1 => Just(Mutation::Drop),
    ]
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A window of up to 40 consecutive lines of a sample, each maybe damaged.
fn mutated_sample() -> impl Strategy<Value = Vec<String>> {
    (
        prop::sample::select(SAMPLES),
        any::<prop::sample::Index>(),
        prop::collection::vec(mutation(), 1..40),
    )
        .prop_map(|(sample, start, mutations)| {
            let lines: Vec<&str> = sample.lines().collect();
            let start = start.index(lines.len().max(1));
            lines
                .iter()
                .skip(start)
                .zip(mutations)
                .filter_map(|(line, m)| match m {
                    Mutation::Keep => Some((*line).to_owned()),
                    Mutation::Cut(at) => {
                        let end = floor_boundary(line, at.index(line.len() + 1));
                        Some(line[..end].to_owned())
                    }
                    Mutation::Insert(at, piece) => {
                        let at = floor_boundary(line, at.index(line.len() + 1));
                        Some(format!("{}{piece}{}", &line[..at], &line[at..]))
                    }
                    Mutation::Drop => None,
                })
                .collect()
        })
}

/// Feeds `lines` to every format's parser (line by line, then flush) and to
/// detection; panics propagate.
fn run_everything<S: AsRef<str>>(lines: &[S]) {
    let refs: Vec<&str> = lines.iter().map(AsRef::as_ref).collect();
    let _ = detect(&refs);
    for format in all_formats() {
        run_one(format, &refs);
    }
}

fn run_one(format: Format, lines: &[&str]) {
    let mut parser = FileParser::new(format, Context::default());
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        parser.feed(i as u64 + 1, line, &mut out);
    }
    parser.flush(&mut out);
    // Touch every event as a consumer would.
    for event in out.drain(..) {
        let _ = event.text_fields();
        let _ = event.into_owned();
    }
}

/// 96 cases per property (seconds in debug); `PROPTEST_CASES=5000` for a
/// longer hunt.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(lines in prop::collection::vec(byte_line(), 0..16)) {
        run_everything(&lines);
    }

    #[test]
    fn arbitrary_strings_never_panic(lines in prop::collection::vec(any::<String>(), 0..16)) {
        run_everything(&lines);
    }

    #[test]
    fn fragment_files_never_panic(lines in file_lines()) {
        run_everything(&lines);
    }

    /// One text split on `\n` only, as the daemon does: lines keep stray
    /// `\r` and may be empty.
    #[test]
    fn split_text_never_panics(text in prop::collection::vec(piece(), 0..60).prop_map(|p| p.join("\n"))) {
        let lines: Vec<&str> = text.split('\n').collect();
        run_everything(&lines);
    }

    #[test]
    fn mutated_samples_never_panic(lines in mutated_sample()) {
        run_everything(&lines);
    }

    /// The extractor alone, on one line and on records joined from many (as
    /// the reassembly hands it pretty-printed bodies and stack traces).
    #[test]
    fn extractor_never_panics(
        line in prop_oneof![fragment_line(), byte_line(), any::<String>()],
        record in prop::collection::vec(fragment_line(), 0..12).prop_map(|l| l.join("\n")),
    ) {
        for text in [&line, &record] {
            if let Some(found) = extract(text) {
                let _ = found.is_error();
                let _ = found.into_owned();
            }
        }
    }

    #[test]
    fn redactor_never_panics(line in prop_oneof![fragment_line(), byte_line(), any::<String>()]) {
        let red = Redactor::default().redact(&line);
        let _ = red.text.len();
    }
}

/// Lines of 1 MiB (ASCII, multi-byte, and format-shaped with a huge value)
/// through every format and detection.
#[test]
fn one_mib_lines_never_panic() {
    const MIB: usize = 1 << 20;
    let ascii = "a".repeat(MIB);
    let multibyte = "é€😀".repeat(MIB / 9);
    let json = format!(
        "{{\"audience\":\"application\",\"error\":{{\"message\":\"invalid_grant\",\"reason\":\"{}\"}}}}",
        "x".repeat(MIB)
    );
    let rails = format!(
        "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [052ca018-5f55-4610-bb75-088318e6b486]   Parameters: {{\"code\"=>\"{}\"}}",
        "€".repeat(MIB / 3)
    );
    let logcat = format!(
        "03-11 09:41:07.413  4321  4360 I flutter : {{grant_type: refresh_token, refresh_token: {}}}",
        "Z".repeat(MIB)
    );
    let query = format!("Redirected to app:/cb?code={}&state=1", "%".repeat(MIB));
    let jwt = format!("Bearer eyJ{}", ".eyJ".repeat(MIB / 4));
    let keycloak = format!(
        "2025-03-11 11:05:12,341 WARN  [org.keycloak.events] (executor-thread-27) type=CODE_TO_TOKEN_ERROR, reason=\"{}",
        "\\\"".repeat(MIB / 2)
    );
    for big in [
        &ascii, &multibyte, &json, &rails, &logcat, &query, &jwt, &keycloak,
    ] {
        // Alone, between normal lines, and repeated (a record that grows).
        let started = "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [052ca018-5f55-4610-bb75-088318e6b486] Started POST \"/oauth/token\" for 10.0.3.31 at 2025-03-11 09:00:02 +0000";
        let lines = [started, big.as_str(), big.as_str(), "", big.as_str()];
        run_everything(&lines);
    }
}

/// The envelope layer under pressure: envelopes nested deeper than it
/// peels, truncated JSON envelopes, and a 1 MiB line split into `P` pieces
/// (CRI) and docker pieces without their newline, never closed.
#[test]
fn envelope_layer_never_panics() {
    const MIB: usize = 1 << 20;
    let mut nested = "Completed 400 Bad Request".to_string();
    for depth in 0..12 {
        nested = match depth % 4 {
            0 => format!("2025-03-11T08:00:00.1Z stdout F {nested}"),
            1 => serde_json::json!({"log": format!("{nested}\n"), "stream": "stdout", "time": "2025-03-11T08:00:00Z"}).to_string(),
            2 => format!("<134>Mar 11 09:41:07 web1 puma[812]: {nested}"),
            _ => format!("[pod/a/b] {nested}"),
        };
    }
    let truncated: Vec<String> = (0..nested.len())
        .step_by(7)
        .filter(|i| nested.is_char_boundary(*i))
        .map(|i| nested[..i].to_string())
        .collect();
    run_everything(&truncated);
    run_everything(&[nested.as_str()]);
    let piece = "€".repeat(MIB / 3);
    let cri_p = format!("2025-03-11T08:00:00.1Z stdout P {piece}");
    let docker_p =
        serde_json::json!({"log": piece, "stream": "stderr", "time": "2025-03-11T08:00:00Z"})
            .to_string();
    let chain: Vec<&str> = std::iter::repeat_n(cri_p.as_str(), 3)
        .chain(std::iter::repeat_n(docker_p.as_str(), 3))
        .collect();
    run_everything(&chain);
    let pretty_open: Vec<String> = std::iter::once("Response: {".to_string())
        .chain((0..600).map(|i| format!("  \"k{i}\": \"{}\",", "v".repeat(i))))
        .collect();
    run_everything(&pretty_open);
}

/// A few fixed hostile lines every parser must survive.
#[test]
fn fixed_hostile_lines_never_panic() {
    let lines = [
        "",
        "\r",
        "\0",
        "\0\0\0\r\n",
        "{",
        "{\"",
        "{\"error\":",
        "{\"audience\":\"application\",\"error\":{",
        "I, [",
        "I, [2025-03-11T09:41:07.318220 #7]  INFO -- : [",
        "I/flutter ( 9705): *** DioException ***:",
        "oidc-provider:error path=/token",
        "type=\"CODE_TO_TOKEN_ERROR\", ",
        "03-11 99:99:99.999  1  1 I flutter : statusCode: 99999999999999999999",
        "2025-13-45T25:61:61.999Z oidc-provider:error path=/token method=POST error={",
        "9999-99-99 99:99:99,999 WARN  [org.keycloak.events] (x) type=",
        "code=%",
        "code=%E",
        "code=%E2%82",
        "eyJ.eyJ.",
        "eyJhbGciOiJSUzI1NiJ9.eyJpYXQiOjFlOTk5fQ.x",
        "Bearer ",
        "Basic",
        "é",
        "\u{FFFD}\u{FFFD}code=\u{FFFD}",
    ];
    run_everything(&lines);
    for line in lines {
        run_everything(&[line]);
        run_everything(&[line, line, line]);
    }
}
