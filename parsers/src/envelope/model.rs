//! What the envelope stage speaks of: which envelope a line was in
//! ([`EnvelopeKind`]), what it said about the line ([`Meta`]: time, stream,
//! host, pod, container, unit, pid) and the lines one layer gives
//! ([`Piece`]). Every envelope parser fills these, `peel.rs` picks the
//! parser and `joiner.rs` stacks layers and joins split lines; a leaf, so
//! that those files and `mod.rs` (which re-exports these types) do not
//! import each other.

use std::borrow::Cow;

use serde::Serialize;

use super::time::EnvelopeTime;

/// How deep envelopes may be stacked.
pub const MAX_DEPTH: usize = 4;

/// An envelope grantwatch can take off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvelopeKind {
    /// Kubernetes CRI log file (`TIME stdout F line`).
    Cri,
    /// Docker's json-file driver (`{"log":"…\n","stream":…,"time":…}`).
    DockerJson,
    /// `kubectl logs --prefix` (`[pod/NAME/CONTAINER] line`).
    KubectlPrefix,
    /// `kubectl logs --timestamps`, and CloudWatch's S3 export: an RFC 3339
    /// time, one space, the line.
    Timestamped,
    /// `journalctl -o json`.
    JournalJson,
    /// Syslog RFC 3164 and `journalctl -o short|short-iso|short-precise`
    /// (`Mar 11 08:00:00 host ident[pid]: line`), `<PRI>` optional.
    Syslog3164,
    /// Syslog RFC 5424 (`<PRI>1 TIME HOST APP PROCID MSGID [SD] line`).
    Syslog5424,
    /// `docker compose logs` / overmind (`name-1  | line`).
    Compose,
    /// foreman / honcho (`12:00:01 web.1  | line`).
    Foreman,
    /// Heroku (`TIME app[web.1]: line`, `TIME heroku[router]: …`).
    Heroku,
    /// Fly.io (`TIME app[id] iad [info] line`).
    Fly,
    /// `aws logs tail` (`TIME STREAM line`), and rows copied from the
    /// CloudWatch console (`| TIME | line`).
    CloudWatchTail,
    /// A CloudWatch `filter-log-events` / `get-log-events` JSON document,
    /// or any JSON array of log records.
    CloudWatchJson,
    /// A Vector record written by its `file` sink (`message`, `timestamp`,
    /// `kubernetes.*`, `host`, `source_type`).
    Vector,
    /// A Fluent Bit record (`log`, `date`/`time`, `kubernetes.*`), or its
    /// `file` output's `tag: [time, {…}]` line.
    FluentBit,
    /// An OpenTelemetry file exporter line (`resourceLogs`) or a bare log
    /// record (`body`, `timeUnixNano`).
    Otel,
}

/// Every envelope, for listings and `--envelope`.
pub const ALL_ENVELOPES: [EnvelopeKind; 16] = [
    EnvelopeKind::Cri,
    EnvelopeKind::DockerJson,
    EnvelopeKind::KubectlPrefix,
    EnvelopeKind::Timestamped,
    EnvelopeKind::JournalJson,
    EnvelopeKind::Syslog3164,
    EnvelopeKind::Syslog5424,
    EnvelopeKind::Compose,
    EnvelopeKind::Foreman,
    EnvelopeKind::Heroku,
    EnvelopeKind::Fly,
    EnvelopeKind::CloudWatchTail,
    EnvelopeKind::CloudWatchJson,
    EnvelopeKind::Vector,
    EnvelopeKind::FluentBit,
    EnvelopeKind::Otel,
];

impl EnvelopeKind {
    /// The stable name (`cri`, `docker-json`, `journal-json`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::Cri => "cri",
            EnvelopeKind::DockerJson => "docker-json",
            EnvelopeKind::KubectlPrefix => "kubectl-prefix",
            EnvelopeKind::Timestamped => "timestamped",
            EnvelopeKind::JournalJson => "journal-json",
            EnvelopeKind::Syslog3164 => "syslog",
            EnvelopeKind::Syslog5424 => "syslog-5424",
            EnvelopeKind::Compose => "compose",
            EnvelopeKind::Foreman => "foreman",
            EnvelopeKind::Heroku => "heroku",
            EnvelopeKind::Fly => "fly",
            EnvelopeKind::CloudWatchTail => "cloudwatch-tail",
            EnvelopeKind::CloudWatchJson => "cloudwatch-json",
            EnvelopeKind::Vector => "vector",
            EnvelopeKind::FluentBit => "fluent-bit",
            EnvelopeKind::Otel => "otel",
        }
    }

    /// A person's name for it, for reports ("docker json-file").
    pub fn describe(self) -> &'static str {
        match self {
            EnvelopeKind::Cri => "Kubernetes CRI",
            EnvelopeKind::DockerJson => "docker json-file",
            EnvelopeKind::KubectlPrefix => "kubectl logs --prefix",
            EnvelopeKind::Timestamped => "kubectl logs --timestamps",
            EnvelopeKind::JournalJson => "journalctl -o json",
            EnvelopeKind::Syslog3164 => "syslog (RFC 3164) / journalctl -o short",
            EnvelopeKind::Syslog5424 => "syslog (RFC 5424)",
            EnvelopeKind::Compose => "docker compose",
            EnvelopeKind::Foreman => "foreman",
            EnvelopeKind::Heroku => "Heroku",
            EnvelopeKind::Fly => "Fly.io",
            EnvelopeKind::CloudWatchTail => "aws logs tail / CloudWatch console",
            EnvelopeKind::CloudWatchJson => "CloudWatch JSON",
            EnvelopeKind::Vector => "Vector",
            EnvelopeKind::FluentBit => "Fluent Bit",
            EnvelopeKind::Otel => "OpenTelemetry",
        }
    }

    /// Parses a name written by [`EnvelopeKind::as_str`] (`docker` and
    /// `journald` are accepted as well).
    pub fn from_name(name: &str) -> Option<EnvelopeKind> {
        match name {
            "docker" => return Some(EnvelopeKind::DockerJson),
            "journald" | "journal" => return Some(EnvelopeKind::JournalJson),
            "syslog-3164" | "journal-short" => return Some(EnvelopeKind::Syslog3164),
            "kubectl" => return Some(EnvelopeKind::KubectlPrefix),
            "cloudwatch" => return Some(EnvelopeKind::CloudWatchTail),
            _ => {}
        }
        ALL_ENVELOPES.iter().copied().find(|e| e.as_str() == name)
    }
}

impl std::fmt::Display for EnvelopeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The output stream a runtime captured the line from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    pub(super) fn from_name(name: &str) -> Option<Stream> {
        match name {
            "stdout" => Some(Stream::Stdout),
            "stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// A name an envelope gave (host, pod, container, unit, pid): one pointer
/// wide, so that a [`Meta`] stays small enough to move without a `memcpy`
/// call on every line, and cloned without copying the text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name(std::sync::Arc<String>);

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Names this thread made last: most envelopes repeat the same few (one
/// host, one program, one pid line after line), and a name made anew for
/// each line was an allocation and a free per name per line.
const RECENT_NAMES: usize = 8;

thread_local! {
    static RECENT: std::cell::RefCell<(usize, [Option<Name>; RECENT_NAMES])> =
        const { std::cell::RefCell::new((0, [const { None }; RECENT_NAMES])) };
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        RECENT.with(|recent| {
            let mut recent = recent.borrow_mut();
            let (next, names) = &mut *recent;
            if let Some(name) = names.iter().flatten().find(|n| n.0.as_str() == text) {
                return name.clone();
            }
            let name = Name(std::sync::Arc::new(text.to_string()));
            names[*next] = Some(name.clone());
            *next = (*next + 1) % RECENT_NAMES;
            name
        })
    }
}

impl From<String> for Name {
    fn from(text: String) -> Self {
        Name(std::sync::Arc::new(text))
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What an envelope said about the line it carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The envelope's time (the runtime's, the journal's, the shipper's).
    pub time: EnvelopeTime,
    /// stdout or stderr.
    pub stream: Option<Stream>,
    /// Host name.
    pub host: Option<Name>,
    /// Kubernetes pod (or compose service, dyno, Fly machine).
    pub pod: Option<Name>,
    /// Container name.
    pub container: Option<Name>,
    /// systemd unit, syslog identifier, service name, log stream.
    pub unit: Option<Name>,
    /// Process id.
    pub pid: Option<Name>,
}

impl Meta {
    /// Fills the fields `inner` knows over this one's (the inner layer is
    /// closer to the application).
    pub(super) fn merge_inner(&mut self, inner: Meta) {
        let Meta {
            time,
            stream,
            host,
            pod,
            container,
            unit,
            pid,
        } = inner;
        self.time = time.or(self.time);
        self.stream = stream.or(self.stream);
        self.host = host.or(self.host.take());
        self.pod = pod.or(self.pod.take());
        self.container = container.or(self.container.take());
        self.unit = unit.or(self.unit.take());
        self.pid = pid.or(self.pid.take());
    }

    /// Whether the envelope named a host, pod, container or unit.
    pub fn has_origin(&self) -> bool {
        self.host.is_some() || self.pod.is_some() || self.container.is_some() || self.unit.is_some()
    }

    /// The identity of the source inside an aggregated file: host, pod,
    /// container and unit (not the pid: one service's workers are one
    /// source, and the Rails assembler keys requests by their id anyway).
    /// Empty when the envelope named none of them.
    pub fn origin(&self) -> String {
        let parts = [&self.host, &self.pod, &self.container, &self.unit];
        let mut key = String::new();
        origin_key(parts.into_iter().flatten().map(|n| &**n), &mut key);
        key
    }

    /// A `Meta` that says only when the line was written.
    pub(super) fn at(time: chrono::DateTime<chrono::Utc>) -> Meta {
        Meta {
            time: EnvelopeTime::At(time),
            ..Meta::default()
        }
    }
}

/// An origin's key made of its names (host, pod, container, unit, those
/// named), into `key`: [`Meta::origin`]'s, and the quiet path's for a
/// syslog line's host and program without a `Meta`.
pub(super) fn origin_key<'n>(names: impl Iterator<Item = &'n str>, key: &mut String) {
    key.clear();
    for name in names {
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str(name);
    }
}

/// The lines one layer gives: nearly always one, held without allocating.
pub type Pieces<'a> = smallvec::SmallVec<[Piece<'a>; 1]>;

/// One line taken out of one envelope layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The inner line.
    pub text: Cow<'a, str>,
    /// What the envelope said about it.
    pub meta: Meta,
    /// The runtime split this line and more of it follows (CRI `P`, a docker
    /// piece without its newline).
    pub partial: bool,
}

impl<'a> Piece<'a> {
    pub(super) fn new(text: impl Into<Cow<'a, str>>, meta: Meta) -> Self {
        Piece {
            text: text.into(),
            meta,
            partial: false,
        }
    }

    pub(super) fn into_owned(self) -> Piece<'static> {
        Piece {
            text: Cow::Owned(self.text.into_owned()),
            meta: self.meta,
            partial: self.partial,
        }
    }
}
