//! The `--config grantwatch.toml` file of `watch`: every command-line flag
//! has a key here (the same struct, `settings::WatchArgs`, reads both), and
//! `[[source]]` tables read groups of paths with their own format, time
//! zone, year or date. Flags given on the command line win over the file
//! (`WatchArgs::over`); paths given on the command line are one more source.
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

use std::path::{Path, PathBuf};

use serde::Deserialize as _;

use crate::settings::WatchArgs;

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

/// Reads and checks the config file.
pub fn load(path: &Path) -> Result<WatchArgs, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| Error::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let config = parse(&text).map_err(invalid)?;
    if config.sources.iter().any(|s| s.paths.is_empty()) {
        return Err(invalid("a [[source]] has no paths".into()));
    }
    Ok(config)
}

/// The settings of `text`. A key no setting has is an error naming it.
/// The known keys are the flags' own names (`WatchArgs`' clap ids, its
/// field names) and the two tables only the file has: serde cannot refuse
/// unknown keys by itself in a struct with flattened groups, and a second
/// list of names would drift from the struct. The `[[source]]` and
/// `[alerting]` tables refuse their own unknown keys.
fn parse(text: &str) -> Result<WatchArgs, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    let flags = <WatchArgs as clap::Args>::augment_args(clap::Command::new("watch"));
    let known = |key: &str| {
        matches!(key, "source" | "alerting") || flags.get_arguments().any(|a| a.get_id() == key)
    };
    if let Some(key) = table.keys().find(|k| !known(k)) {
        return Err(format!("unknown key {key:?}"));
    }
    // The error's text ends with the key's path (`in `alerting.rule.cause``).
    WatchArgs::deserialize(table).map_err(|e| e.to_string().trim_end().replace('\n', " "))
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
        assert!(
            config
                .reading
                .code_lifetime
                .contains(&("keycloak".to_owned(), 60))
        );
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

    /// The flags and the file are one struct: the same names, the same
    /// parsers, one merge where the command line wins.
    #[test]
    fn flags_and_file_merge_with_the_command_line_winning() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            watch: WatchArgs,
        }
        let file = parse(
            "retain_days = 30\nenvelope = \"none\"\nlisten = \"127.0.0.1:9000\"\n\
             syslog = \"127.0.0.1:5514\"\n[code_lifetime]\nkeycloak = 60\ndoorkeeper = 600\n",
        )
        .expect("valid");
        let flags = Cli::try_parse_from([
            "watch",
            "--retain",
            "7",
            "--envelope",
            "cri",
            "--code-lifetime",
            "doorkeeper=300",
        ])
        .expect("valid flags")
        .watch;
        let merged = flags.over(file);
        assert_eq!(merged.retain_days, Some(7));
        assert_eq!(
            merged.reading.envelope,
            crate::settings::parse_envelope("cri").ok()
        );
        assert_eq!(merged.serving.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(merged.syslog.as_deref(), Some("127.0.0.1:5514"));
        let lifetimes = merged.reading.diagnose_settings().code_lifetime_s;
        assert_eq!(lifetimes.get("doorkeeper"), Some(&300), "the flag wins");
        assert_eq!(lifetimes.get("keycloak"), Some(&60));
        // A bad value in the file is refused by the flag's own parser.
        let err = parse("envelope = \"crj\"\n").expect_err("bad envelope");
        assert!(err.contains("crj"), "{err}");
        let err = parse("[alerting]\nwebhok = \"http://x\"\n").expect_err("typo");
        assert!(err.contains("webhok"), "{err}");
    }

    #[test]
    fn an_alert_rule_with_an_unknown_cause_is_an_error_naming_the_key() {
        let (_dir, path) = write(
            "[alerting]\n[[alerting.rule]]\nname = \"Reused\"\nkind = \"threshold\"\ncause = \"code_reuse\"\n",
        );
        let err = load(&path).expect_err("an unknown cause").to_string();
        assert!(
            err.contains("alerting.rule.cause") && err.contains("code_reuse"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        assert!(
            err.contains("code_reused"),
            "the known causes are listed: {err}"
        );
    }
}
