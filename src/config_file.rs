//! The `--config grantwatch.toml` file of `watch`: every command-line flag
//! has a key here, and `[[source]]` tables read groups of paths with their
//! own format, time zone, year or date. Flags given on the command line win
//! over the file; paths given on the command line are one more source.
//!
//! ```toml
//! db = "/var/lib/grantwatch/grantwatch.db"
//! listen = "127.0.0.1:7600"
//! # token = "..."            # prefer GRANTWATCH_TOKEN
//! retain_days = 30
//! poll = false               # true on network file systems
//! poll_interval_ms = 250
//! refresh_race_ms = 2000
//! jwt_leeway = 60
//! session_idle = 1800        # Keycloak's SSO Session Idle, bounds refresh tokens
//!
//! [code_lifetime]            # seconds, per server kind
//! doorkeeper = 600
//! keycloak = 60
//!
//! [[source]]
//! paths = ["/var/log/app/production.log*"]
//! format = "rails"
//! timezone = "+09:00"
//!
//! [[source]]
//! paths = ["/var/log/devices/*.logcat"]
//! year = 2025
//! ```
//!
//! Unknown keys are errors (a typo must not be silently ignored).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, NaiveDate};
use grantwatch_parsers::Format;
use serde::Deserialize;

/// Errors of reading the config file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
}

/// The config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `--db`.
    pub db: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--token`.
    pub token: Option<String>,
    /// `--poll`.
    pub poll: Option<bool>,
    /// `--poll-interval-ms`.
    pub poll_interval_ms: Option<u64>,
    /// `--retain`.
    pub retain_days: Option<u32>,
    /// `--fingerprint-key`.
    pub fingerprint_key: Option<String>,
    /// `--format` for every source that sets none.
    pub format: Option<String>,
    /// `--timezone` for every source that sets none.
    pub timezone: Option<String>,
    /// `--year` for every source that sets none.
    pub year: Option<i32>,
    /// `--date` for every source that sets none.
    pub date: Option<NaiveDate>,
    /// `--code-lifetime SERVER=SECONDS`, as a table.
    #[serde(default)]
    pub code_lifetime: BTreeMap<String, i64>,
    /// `--refresh-race-ms`.
    pub refresh_race_ms: Option<i64>,
    /// `--jwt-leeway`.
    pub jwt_leeway: Option<i64>,
    /// `--session-idle` (Keycloak's SSO Session Idle, seconds).
    pub session_idle: Option<i64>,
    /// `[[source]]` tables.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceEntry>,
    /// `[alerting]`: alert rules and where they go.
    pub alerting: Option<crate::alerts::AlertConfig>,
}

/// One `[[source]]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceEntry {
    /// Files, folders and globs.
    pub paths: Vec<PathBuf>,
    /// Force this format.
    pub format: Option<String>,
    /// Zone of times that carry none.
    pub timezone: Option<String>,
    /// Year of times that carry none.
    pub year: Option<i32>,
    /// Date of times that carry only a time of day.
    pub date: Option<NaiveDate>,
}

/// Reads and checks the config file.
pub fn load(path: &Path) -> Result<ConfigFile, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| Error::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let config: ConfigFile = toml::from_str(&text).map_err(|e| invalid(e.message().to_owned()))?;
    for server in config.code_lifetime.keys() {
        if grantwatch_parsers::ServerKind::from_name(server).is_none() {
            return Err(invalid(format!(
                "unknown server {server:?} in [code_lifetime]"
            )));
        }
    }
    let formats = config
        .sources
        .iter()
        .filter_map(|s| s.format.as_deref())
        .chain(config.format.as_deref());
    for f in formats {
        parse_format(f).map_err(invalid)?;
    }
    let zones = config
        .sources
        .iter()
        .filter_map(|s| s.timezone.as_deref())
        .chain(config.timezone.as_deref());
    for z in zones {
        parse_offset(z).map_err(invalid)?;
    }
    if config.sources.iter().any(|s| s.paths.is_empty()) {
        return Err(invalid("a [[source]] has no paths".into()));
    }
    Ok(config)
}

/// Parses `--envelope`: `auto`, `none`, or an envelope name.
pub fn parse_envelope(s: &str) -> Result<grantwatch_parsers::EnvelopeChoice, String> {
    grantwatch_parsers::EnvelopeChoice::from_name(s).ok_or_else(|| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("grantwatch.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn the_documented_example_loads() {
        let doc = include_str!("config_file.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| {
                l.trim_start_matches("//!")
                    .trim_start_matches(' ')
                    .to_owned()
                    + "\n"
            })
            .collect();
        let (_dir, path) = write(&example);
        let config = load(&path).expect("the example is valid");
        assert_eq!(config.sources.len(), 2);
        assert_eq!(config.retain_days, Some(30));
        assert_eq!(config.code_lifetime.get("keycloak"), Some(&60));
        assert_eq!(config.sources[1].year, Some(2025));
    }

    #[test]
    fn typos_and_bad_values_are_errors_that_say_where() {
        let (_d, path) = write("retain_dayz = 3\n");
        assert!(
            load(&path)
                .expect_err("unknown key")
                .to_string()
                .contains("retain_dayz")
        );
        let (_d, path) = write("[[source]]\npaths = [\"/x\"]\nformat = \"railz\"\n");
        assert!(
            load(&path)
                .expect_err("bad format")
                .to_string()
                .contains("railz")
        );
        let (_d, path) = write("[code_lifetime]\ndoorkeepr = 5\n");
        assert!(
            load(&path)
                .expect_err("bad server")
                .to_string()
                .contains("doorkeepr")
        );
        let (_d, path) = write("timezone = \"+9\"\n");
        assert!(
            load(&path)
                .expect_err("bad zone")
                .to_string()
                .contains("+9")
        );
    }
}

/// What the command line said for `watch` (`None`: not given).
#[derive(Clone, Debug, Default)]
pub struct WatchFlags {
    /// `--db`.
    pub db: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--token` (or GRANTWATCH_TOKEN).
    pub token: Option<String>,
    /// `--poll` (only ever turns polling on).
    pub poll: bool,
    /// `--poll-interval-ms`.
    pub poll_interval_ms: Option<u64>,
    /// `--retain`.
    pub retain_days: Option<u32>,
    /// `--format`.
    pub format: Option<Format>,
    /// `--timezone`.
    pub timezone: Option<FixedOffset>,
    /// `--year`.
    pub year: Option<i32>,
    /// `--date`.
    pub date: Option<NaiveDate>,
    /// `--fingerprint-key`.
    pub fingerprint_key: Option<String>,
    /// `--code-lifetime`.
    pub code_lifetime: Vec<(String, i64)>,
    /// `--refresh-race-ms`.
    pub refresh_race_ms: Option<i64>,
    /// `--jwt-leeway`.
    pub jwt_leeway: Option<i64>,
    /// `--session-idle`.
    pub session_idle: Option<i64>,
    /// `--envelope`.
    pub envelope: grantwatch_parsers::EnvelopeChoice,
    /// The paths on the command line.
    pub paths: Vec<PathBuf>,
    /// `--ingest-max-bytes`.
    pub ingest_max_bytes: Option<usize>,
    /// `--syslog ADDR`.
    pub syslog: Option<String>,
    /// How long a received stream is quiet before its open records are
    /// flushed (hidden `--stream-flush-ms`).
    pub stream_flush_ms: Option<u64>,
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

/// Merges the command line over the config file. The file's `[[source]]`
/// tables come first, then the command line's paths as one more source.
pub fn resolve(flags: WatchFlags, file: ConfigFile) -> Result<WatchSetup, String> {
    let key = flags
        .fingerprint_key
        .clone()
        .or(file.fingerprint_key.clone());
    let base = grantwatch_parsers::Context {
        redactor: key.map_or_else(grantwatch_parsers::Redactor::default, |k| {
            grantwatch_parsers::Redactor::new(k.as_bytes())
        }),
        envelope: flags.envelope,
        ..grantwatch_parsers::Context::default()
    };
    let global_zone = match (flags.timezone, &file.timezone) {
        (Some(z), _) => Some(z),
        (None, Some(z)) => Some(parse_offset(z)?),
        _ => None,
    };
    let global_format = match (flags.format, &file.format) {
        (Some(f), _) => Some(f),
        (None, Some(f)) => Some(parse_format(f)?),
        _ => None,
    };
    let context = |zone: Option<FixedOffset>, year: Option<i32>, date: Option<NaiveDate>| {
        let mut c = base.clone();
        if let Some(z) = zone.or(global_zone) {
            c.assumed_offset = z;
        }
        c.assumed_year = year.or(flags.year).or(file.year);
        c.assumed_date = date.or(flags.date).or(file.date);
        c
    };
    let mut sources = Vec::new();
    for s in &file.sources {
        let zone = s.timezone.as_deref().map(parse_offset).transpose()?;
        let format = s
            .format
            .as_deref()
            .map(parse_format)
            .transpose()?
            .or(global_format);
        sources.push(crate::watch::SourceSpec {
            paths: s.paths.clone(),
            format,
            context: context(zone, s.year, s.date),
        });
    }
    if !flags.paths.is_empty() {
        sources.push(crate::watch::SourceSpec {
            paths: flags.paths.clone(),
            format: global_format,
            context: context(None, None, None),
        });
    }
    // No paths is valid: shipped logs arrive over HTTP or syslog.
    let fleet = crate::fleet::FleetOptions {
        max_bytes: flags
            .ingest_max_bytes
            .unwrap_or(crate::fleet::DEFAULT_MAX_BYTES),
        queue_bytes: 4 * flags
            .ingest_max_bytes
            .unwrap_or(crate::fleet::DEFAULT_MAX_BYTES)
            .max(crate::fleet::DEFAULT_MAX_BYTES),
        syslog: flags.syslog.clone(),
        context: context(None, None, None),
        flush_after: flags
            .stream_flush_ms
            .map_or(crate::watch::STALE_RECORD, std::time::Duration::from_millis),
        ..crate::fleet::FleetOptions::default()
    };
    let mut settings = crate::config::DiagnoseSettings::default();
    settings.code_lifetime_s.extend(file.code_lifetime.clone());
    settings
        .code_lifetime_s
        .extend(flags.code_lifetime.iter().cloned());
    if let Some(ms) = flags.refresh_race_ms.or(file.refresh_race_ms) {
        settings.refresh_race_ms = ms;
    }
    if let Some(s) = flags.jwt_leeway.or(file.jwt_leeway) {
        settings.jwt_leeway_s = s;
    }
    if let Some(s) = flags.session_idle.or(file.session_idle) {
        settings.keycloak_session_idle_s = s;
    }
    let interval = flags
        .poll_interval_ms
        .or(file.poll_interval_ms)
        .unwrap_or(250)
        .max(10);
    let options = crate::watch::WatchOptions {
        sources,
        db: flags
            .db
            .or(file.db)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DB)),
        settings,
        poll_interval: std::time::Duration::from_millis(interval),
        notify: !(flags.poll || file.poll.unwrap_or(false)),
        retain: flags
            .retain_days
            .or(file.retain_days)
            .map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400)),
    };
    Ok(WatchSetup {
        options,
        listen: flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.into()),
        token: flags.token.or(file.token),
        fleet,
        alerting: match file.alerting {
            Some(a) => {
                crate::alerts::check(&a)?;
                Some(a)
            }
            None => None,
        },
    })
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    #[test]
    fn the_command_line_wins_and_its_paths_are_one_more_source() {
        let file = ConfigFile {
            db: Some("from-file.db".into()),
            listen: Some("127.0.0.1:9000".into()),
            retain_days: Some(30),
            timezone: Some("+09:00".into()),
            sources: vec![SourceEntry {
                paths: vec!["/var/log/app/*.log".into()],
                format: Some("rails".into()),
                year: Some(2024),
                ..SourceEntry::default()
            }],
            ..ConfigFile::default()
        };
        let flags = WatchFlags {
            db: Some("from-flag.db".into()),
            retain_days: Some(7),
            paths: vec!["/tmp/client.logcat".into()],
            ..WatchFlags::default()
        };
        let setup = resolve(flags, file).expect("resolve");
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
            WatchFlags {
                ingest_max_bytes: Some(1000),
                syslog: Some("127.0.0.1:5514".into()),
                ..WatchFlags::default()
            },
            ConfigFile::default(),
        )
        .expect("no paths is valid");
        assert!(setup.options.sources.is_empty());
        assert_eq!(setup.fleet.max_bytes, 1000);
        assert_eq!(setup.fleet.syslog.as_deref(), Some("127.0.0.1:5514"));
    }
}
