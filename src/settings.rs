//! What `analyze`, `watch` and `serve` are told: one struct per group of
//! settings, read from the command line (`clap::Args`) and from `watch`'s
//! config file (`serde::Deserialize`, see `config_file.rs`) alike, and one
//! merge ([`WatchArgs::over`], [`resolve`]) into what the daemon runs.
//!
//! Invariants: every flag of `watch` is a key of the config file under its
//! long name (`--retain` is `retain_days`, kept for files already written),
//! but for what only makes sense on a command line (the paths, `--config`,
//! `--replay-now`); a value given on the command line wins over the file's,
//! except `--code-lifetime` (the file's table, then the flags, the later
//! winning per server) and `--poll` (either turns polling on); values are
//! checked when read, by the same parser for both (`parse_format`,
//! `parse_offset`, `parse_envelope`, `parse_lifetime`).

use std::path::PathBuf;

use chrono::{FixedOffset, NaiveDate};
use grantwatch_parsers::{Context, EnvelopeChoice, Format, Redactor};
use serde::{Deserialize, Deserializer};

use crate::config::DiagnoseSettings;

/// Why settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `[alerting]` table is wrong.
    #[error("[alerting]: {0}")]
    Alerting(String),
}

/// How logs are read and diagnosed (`analyze` and `watch`).
#[derive(clap::Args, Clone, Debug, Default, Deserialize)]
pub struct ReadingArgs {
    /// Read every file as this format instead of detecting it.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    #[serde(default, deserialize_with = "de::format")]
    pub format: Option<Format>,
    /// Take off only this envelope (cri, docker-json, journal-json, syslog,
    /// syslog-5424, kubectl-prefix, ...), or `none` [default: auto: every
    /// envelope is recognised line by line].
    #[arg(long, value_name = "ENVELOPE", value_parser = parse_envelope)]
    #[serde(default, deserialize_with = "de::envelope")]
    pub envelope: Option<EnvelopeChoice>,
    /// Zone of timestamps that carry none, as an offset (e.g. +09:00).
    #[arg(long, value_name = "OFFSET", value_parser = parse_offset)]
    #[serde(default, deserialize_with = "de::offset")]
    pub timezone: Option<FixedOffset>,
    /// Year of timestamps that carry none (logcat).
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i32>,
    /// Date of timestamps that carry only a time (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub date: Option<NaiveDate>,
    /// Key of the secret fingerprints (or GRANTWATCH_FINGERPRINT_KEY).
    #[arg(
        long,
        value_name = "KEY",
        env = "GRANTWATCH_FINGERPRINT_KEY",
        hide_env_values = true
    )]
    pub fingerprint_key: Option<String>,
    /// Authorization code lifetime of a server kind, e.g. doorkeeper=300
    /// (repeatable; defaults per server as the catalog gives them). In the
    /// config file, a `[code_lifetime]` table.
    #[arg(long, value_name = "SERVER=SECONDS", value_parser = parse_lifetime)]
    #[serde(default, deserialize_with = "de::lifetimes")]
    pub code_lifetime: Vec<(String, i64)>,
    /// Two refreshes of one client closer than this are a race.
    #[arg(long, value_name = "MS")]
    pub refresh_race_ms: Option<i64>,
    /// Leeway granted on JWT times (iat, nbf, exp), in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub jwt_leeway: Option<i64>,
    /// Keycloak's SSO Session Idle, which bounds its refresh tokens, in
    /// seconds [default: 1800].
    #[arg(long, value_name = "SECONDS")]
    pub session_idle: Option<i64>,
}

impl ReadingArgs {
    /// These settings where given, else `file`'s (see the module comment).
    pub fn over(self, file: ReadingArgs) -> ReadingArgs {
        let mut code_lifetime = file.code_lifetime;
        code_lifetime.extend(self.code_lifetime);
        ReadingArgs {
            format: self.format.or(file.format),
            envelope: self.envelope.or(file.envelope),
            timezone: self.timezone.or(file.timezone),
            year: self.year.or(file.year),
            date: self.date.or(file.date),
            fingerprint_key: self.fingerprint_key.or(file.fingerprint_key),
            code_lifetime,
            refresh_race_ms: self.refresh_race_ms.or(file.refresh_race_ms),
            jwt_leeway: self.jwt_leeway.or(file.jwt_leeway),
            session_idle: self.session_idle.or(file.session_idle),
        }
    }

    /// The parsers' context: assumed zone, year and date, the envelope, the
    /// fingerprint key.
    pub fn context(&self) -> Context {
        let mut context = Context {
            assumed_year: self.year,
            assumed_date: self.date,
            envelope: self.envelope.unwrap_or_default(),
            ..Context::default()
        };
        if let Some(tz) = self.timezone {
            context.assumed_offset = tz;
        }
        if let Some(key) = &self.fingerprint_key {
            context.redactor = Redactor::new(key.as_bytes());
        }
        context
    }

    /// The diagnosis' settings: code lifetimes, race window, leeways.
    pub fn diagnose_settings(&self) -> DiagnoseSettings {
        let mut settings = DiagnoseSettings::default();
        settings
            .code_lifetime_s
            .extend(self.code_lifetime.iter().cloned());
        if let Some(ms) = self.refresh_race_ms {
            settings.refresh_race_ms = ms;
        }
        if let Some(s) = self.jwt_leeway {
            settings.jwt_leeway_s = s;
        }
        if let Some(s) = self.session_idle {
            settings.keycloak_session_idle_s = s;
        }
        settings
    }
}

/// Where and for whom the web side listens (`watch` and `serve`).
#[derive(clap::Args, Clone, Debug, Default, Deserialize)]
pub struct ServingArgs {
    /// Address to listen on; one that is not loopback needs a token
    /// [default: 127.0.0.1:7600].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Require `Authorization: Bearer TOKEN`, or a browser signed in at
    /// /login, on every route but /healthz (prefer GRANTWATCH_TOKEN:
    /// arguments are visible to other users).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "GRANTWATCH_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// `watch`'s settings: its flags, and the config file's keys.
#[derive(clap::Args, Clone, Debug, Default, Deserialize)]
pub struct WatchArgs {
    /// The database (created if missing; a restart resumes from it)
    /// [default: grantwatch.db].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    // Where and for whom it listens.
    #[allow(missing_docs)]
    #[command(flatten)]
    #[serde(flatten)]
    pub serving: ServingArgs,
    /// Poll only (no file-system events): for network file systems.
    #[arg(long)]
    #[serde(default)]
    pub poll: bool,
    /// The longest time between two polls, in milliseconds [default: 250].
    #[arg(long, value_name = "MS")]
    pub poll_interval_ms: Option<u64>,
    /// Keep this many days of events and failures (by log time); older
    /// ones are pruned in small chunks as the daemon runs.
    #[arg(long = "retain", value_name = "DAYS")]
    pub retain_days: Option<u32>,
    // How logs are read and diagnosed.
    #[allow(missing_docs)]
    #[command(flatten)]
    #[serde(flatten)]
    pub reading: ReadingArgs,
    /// The largest body `POST /api/ingest` and `POST /v1/logs` take
    /// (compressed or not; 413 beyond) [default: 16 MiB].
    #[arg(long, value_name = "BYTES")]
    pub ingest_max_bytes: Option<usize>,
    /// Also receive syslog (RFC 3164/5424) on this address, over TCP
    /// (newline or octet-counted framing) and UDP.
    #[arg(long, value_name = "ADDR")]
    pub syslog: Option<String>,
    /// Flush a received stream's open records after it is quiet this
    /// long (tests) [default: 30000].
    #[arg(long, value_name = "MS", hide = true)]
    pub stream_flush_ms: Option<u64>,
    /// Store a first start's backlog in bulk from this many bytes left
    /// after its first round (tests) [default: 64 MiB].
    #[arg(long, value_name = "BYTES", hide = true)]
    #[serde(skip)]
    pub bulk_catch_up_bytes: Option<u64>,
    /// Bytes read per poll, all files together (tests) [default: 16 MiB].
    #[arg(long, value_name = "BYTES", hide = true)]
    #[serde(skip)]
    pub poll_read_bytes: Option<usize>,
    /// `[[source]]` tables (config file only).
    #[arg(skip)]
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceEntry>,
    /// `[alerting]`: alert rules and where they go (config file only).
    #[arg(skip)]
    pub alerting: Option<crate::alerts::AlertConfig>,
}

impl WatchArgs {
    /// These settings where given, else `file`'s (see the module comment).
    pub fn over(self, file: WatchArgs) -> WatchArgs {
        let mut sources = file.sources;
        sources.extend(self.sources);
        WatchArgs {
            db: self.db.or(file.db),
            serving: ServingArgs {
                listen: self.serving.listen.or(file.serving.listen),
                token: self.serving.token.or(file.serving.token),
            },
            poll: self.poll || file.poll,
            poll_interval_ms: self.poll_interval_ms.or(file.poll_interval_ms),
            retain_days: self.retain_days.or(file.retain_days),
            reading: self.reading.over(file.reading),
            ingest_max_bytes: self.ingest_max_bytes.or(file.ingest_max_bytes),
            syslog: self.syslog.or(file.syslog),
            stream_flush_ms: self.stream_flush_ms.or(file.stream_flush_ms),
            bulk_catch_up_bytes: self.bulk_catch_up_bytes,
            poll_read_bytes: self.poll_read_bytes,
            sources,
            alerting: self.alerting.or(file.alerting),
        }
    }
}

/// One `[[source]]`: paths read with their own format, zone, year or date.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceEntry {
    /// Files, folders and globs.
    pub paths: Vec<PathBuf>,
    /// Force this format.
    #[serde(default, deserialize_with = "de::format")]
    pub format: Option<Format>,
    /// Zone of times that carry none.
    #[serde(default, deserialize_with = "de::offset")]
    pub timezone: Option<FixedOffset>,
    /// Year of times that carry none.
    pub year: Option<i32>,
    /// Date of times that carry only a time of day.
    pub date: Option<NaiveDate>,
}

/// `watch` fully resolved: what to follow, and where to serve.
#[derive(Clone, Debug)]
pub struct WatchSetup {
    /// The ingest side.
    pub options: crate::watch::WatchOptions,
    /// The address to listen on.
    pub listen: String,
    /// The access token.
    pub token: Option<String>,
    /// The receivers of shipped logs (`src/fleet`).
    pub fleet: crate::fleet::FleetOptions,
    /// Alert rules and where they go (config file only).
    pub alerting: Option<crate::alerts::AlertConfig>,
}

/// The listen address when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7600";
/// The database when none is given.
pub const DEFAULT_DB: &str = "grantwatch.db";

/// What `watch` runs, from its merged settings (`flags.over(file)`) and the
/// paths of its command line: the `[[source]]` tables first, then those
/// paths as one more source.
pub fn resolve(args: WatchArgs, paths: Vec<PathBuf>) -> Result<WatchSetup, Error> {
    let context = |zone: Option<FixedOffset>, year: Option<i32>, date: Option<NaiveDate>| {
        let mut c = args.reading.context();
        if let Some(z) = zone {
            c.assumed_offset = z;
        }
        c.assumed_year = year.or(c.assumed_year);
        c.assumed_date = date.or(c.assumed_date);
        c
    };
    let mut sources = Vec::new();
    for s in &args.sources {
        sources.push(crate::watch::SourceSpec {
            paths: s.paths.clone(),
            format: s.format.or(args.reading.format),
            context: context(s.timezone, s.year, s.date),
        });
    }
    if !paths.is_empty() {
        sources.push(crate::watch::SourceSpec {
            paths,
            format: args.reading.format,
            context: context(None, None, None),
        });
    }
    // No paths is valid: shipped logs arrive over HTTP or syslog.
    let max_bytes = args
        .ingest_max_bytes
        .unwrap_or(crate::fleet::DEFAULT_MAX_BYTES);
    let fleet = crate::fleet::FleetOptions {
        max_bytes,
        queue_bytes: 4 * max_bytes.max(crate::fleet::DEFAULT_MAX_BYTES),
        syslog: args.syslog.clone(),
        context: context(None, None, None),
        flush_after: args
            .stream_flush_ms
            .map_or(crate::watch::STALE_RECORD, std::time::Duration::from_millis),
        ..crate::fleet::FleetOptions::default()
    };
    let interval = args.poll_interval_ms.unwrap_or(250).max(10);
    let options = crate::watch::WatchOptions {
        sources,
        db: args.db.unwrap_or_else(|| PathBuf::from(DEFAULT_DB)),
        settings: args.reading.diagnose_settings(),
        poll_interval: std::time::Duration::from_millis(interval),
        notify: !args.poll,
        retain: args
            .retain_days
            .map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400)),
        bulk_catch_up_bytes: args
            .bulk_catch_up_bytes
            .unwrap_or(crate::watch::BULK_CATCH_UP_BYTES),
        poll_read_bytes: args
            .poll_read_bytes
            .unwrap_or_else(|| crate::tail::TailConfig::default().poll_read_bytes),
    };
    if let Some(a) = &args.alerting {
        crate::alerts::check(a).map_err(Error::Alerting)?;
    }
    Ok(WatchSetup {
        options,
        listen: args.serving.listen.unwrap_or_else(|| DEFAULT_LISTEN.into()),
        token: args.serving.token,
        fleet,
        alerting: args.alerting,
    })
}

/// Parses `--envelope`: `auto`, `none`, or an envelope name.
pub fn parse_envelope(s: &str) -> Result<EnvelopeChoice, String> {
    EnvelopeChoice::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = grantwatch_parsers::envelope::ALL_ENVELOPES
            .iter()
            .map(|e| e.as_str())
            .collect();
        format!(
            "unknown envelope {s:?}; one of: auto, none, {}",
            names.join(", ")
        )
    })
}

/// A format name, or an error listing the known ones.
pub fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| {
        format!(
            "unknown format {s:?}; one of: {}",
            grantwatch_parsers::CONCRETE_FORMATS
                .iter()
                .map(|f| f.as_str())
                .chain(["mixed"])
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// A UTC offset written `+09:00`, `-05:30`, `UTC` or `Z`.
pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return FixedOffset::east_opt(0).ok_or_else(|| "bad offset".into());
    }
    let probe = format!("2000-01-01T00:00:00{s}");
    chrono::DateTime::parse_from_rfc3339(&probe)
        .map(|d| *d.offset())
        .map_err(|_| format!("bad time-zone offset {s:?}: write it like +09:00 or -05:30"))
}

/// `SERVER=SECONDS`, a known server kind.
pub fn parse_lifetime(s: &str) -> Result<(String, i64), String> {
    let (server, secs) = s
        .split_once('=')
        .ok_or_else(|| format!("expected SERVER=SECONDS, got {s:?}"))?;
    known_server(server)?;
    let secs: i64 = secs
        .parse()
        .map_err(|_| format!("bad number of seconds {secs:?}"))?;
    Ok((server.to_owned(), secs))
}

fn known_server(server: &str) -> Result<(), String> {
    if grantwatch_parsers::ServerKind::from_name(server).is_some() {
        return Ok(());
    }
    Err(format!(
        "unknown server {server:?}; one of: {}",
        grantwatch_parsers::ALL_SERVERS
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The config file's values read by the command line's parsers.
mod de {
    use std::collections::BTreeMap;

    use serde::de::Error as _;

    use super::{Deserialize, Deserializer};

    fn parsed<'de, D, T>(d: D, parse: fn(&str) -> Result<T, String>) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
    {
        Option::<String>::deserialize(d)?
            .as_deref()
            .map(parse)
            .transpose()
            .map_err(D::Error::custom)
    }

    pub(super) fn format<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<grantwatch_parsers::Format>, D::Error> {
        parsed(d, super::parse_format)
    }

    pub(super) fn envelope<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<grantwatch_parsers::EnvelopeChoice>, D::Error> {
        parsed(d, super::parse_envelope)
    }

    pub(super) fn offset<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<chrono::FixedOffset>, D::Error> {
        parsed(d, super::parse_offset)
    }

    /// `[code_lifetime]`: a table of server kind to seconds.
    pub(super) fn lifetimes<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, i64)>, D::Error> {
        let table = BTreeMap::<String, i64>::deserialize(d)?;
        for server in table.keys() {
            super::known_server(server)
                .map_err(|e| D::Error::custom(format!("[code_lifetime]: {e}")))?;
        }
        Ok(table.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_wins_and_its_paths_are_one_more_source() {
        let file = WatchArgs {
            db: Some("from-file.db".into()),
            serving: ServingArgs {
                listen: Some("127.0.0.1:9000".into()),
                token: None,
            },
            retain_days: Some(30),
            reading: ReadingArgs {
                timezone: parse_offset("+09:00").ok(),
                ..ReadingArgs::default()
            },
            sources: vec![SourceEntry {
                paths: vec!["/var/log/app/*.log".into()],
                format: Some(Format::Rails),
                year: Some(2024),
                ..SourceEntry::default()
            }],
            ..WatchArgs::default()
        };
        let flags = WatchArgs {
            db: Some("from-flag.db".into()),
            retain_days: Some(7),
            ..WatchArgs::default()
        };
        let setup = resolve(flags.over(file), vec!["/tmp/client.logcat".into()]).expect("resolve");
        let o = &setup.options;
        assert_eq!(o.db, PathBuf::from("from-flag.db"));
        assert_eq!(o.retain, Some(std::time::Duration::from_secs(7 * 86_400)));
        assert_eq!(setup.listen, "127.0.0.1:9000");
        assert_eq!(o.sources.len(), 2);
        assert_eq!(o.sources[0].format, Some(Format::Rails));
        assert_eq!(o.sources[0].context.assumed_year, Some(2024));
        assert_eq!(
            o.sources[0].context.assumed_offset.local_minus_utc(),
            9 * 3600
        );
        assert_eq!(
            o.sources[1].paths,
            vec![PathBuf::from("/tmp/client.logcat")]
        );
        assert_eq!(o.sources[1].format, None);
    }

    #[test]
    fn no_paths_is_valid_and_receives_only_what_shippers_send() {
        let setup = resolve(
            WatchArgs {
                ingest_max_bytes: Some(1000),
                syslog: Some("127.0.0.1:5514".into()),
                ..WatchArgs::default()
            },
            Vec::new(),
        )
        .expect("no paths is valid");
        assert!(setup.options.sources.is_empty());
        assert_eq!(setup.fleet.max_bytes, 1000);
        assert_eq!(setup.fleet.syslog.as_deref(), Some("127.0.0.1:5514"));
    }
}
