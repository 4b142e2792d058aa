//! What a cause's file declares ([`Rule`]: its meaning, evidence, fix, the
//! grants it fits, its inference) and what an inference finds ([`Finding`],
//! how sure and on what [`Basis`]). A leaf the cause files and `causes/mod.rs`
//! (the priority list) share, so the dependency points one way: each cause
//! file reads this, the list reads each cause file.

use grantwatch_parsers::GrantType;

use super::super::case::Case;
use super::super::cause::{Cause, Confidence};
use crate::config::DiagnoseSettings;

/// What the evidence behind a finding is, from the most to the least
/// telling: at equal confidence the better founded finding decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Basis {
    /// A status code alone (a 401 with no body).
    Status,
    /// A generic OAuth error code alone (`invalid_client`, `unauthorized_client`).
    Code,
    /// The logs around the request: the flow, earlier exchanges, clocks.
    Flow,
    /// The provider's own specific words: a description, sub-code, reason
    /// or debug text.
    Words,
}

impl Basis {
    /// Whether this basis alone can never settle a cause: a status code or a
    /// generic code gives at most `medium`.
    pub fn is_weak(self) -> bool {
        matches!(self, Basis::Status | Basis::Code)
    }
}

/// What a rule found.
#[derive(Clone, Debug)]
pub struct Finding {
    /// How sure.
    pub confidence: Confidence,
    /// What it rests on.
    pub basis: Basis,
    /// One sentence with the actual values.
    pub summary: String,
    /// Events (ids) beyond the failure's own that support it.
    pub supporting: Vec<i64>,
    /// Which log would settle it, when not sure.
    pub missing: Option<String>,
    /// Causes a provider's phrase names that this finding reads more
    /// precisely in this flow (Hydra's "verifier must be at least 43
    /// characters" with no verifier sent is a missing verifier, not a
    /// malformed one): they are kept as low candidates.
    pub supersedes: Vec<Cause>,
}

impl Finding {
    /// A finding from the logs around the request.
    pub fn flow(confidence: Confidence, summary: String) -> Finding {
        Finding {
            confidence,
            basis: Basis::Flow,
            summary,
            supporting: Vec::new(),
            missing: None,
            supersedes: Vec::new(),
        }
    }

    /// With the events that support it.
    pub fn supported_by(mut self, ids: Vec<i64>) -> Finding {
        self.supporting = ids;
        self
    }

    /// With the log that would settle it.
    pub fn missing(mut self, what: Option<String>) -> Finding {
        self.missing = what;
        self
    }
}

/// Which grant types a cause can happen to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grants {
    /// Every grant.
    Any,
    /// Only an authorization-code exchange (a refresh has no code).
    Code,
    /// Only a refresh (a code exchange has no refresh token).
    Refresh,
}

/// An inference from the request logs.
pub type Infer = fn(&Case, &DiagnoseSettings) -> Option<Finding>;

/// One cause: what it means, what it needs, its fix, the grants it fits and
/// its inference.
pub struct Rule {
    /// The cause.
    pub cause: Cause,
    /// What it means, in a few words (docs/DESIGN.md's table).
    pub meaning: &'static str,
    /// The evidence the inference needs (for the README and reviewers).
    pub needs: &'static str,
    /// What to change.
    pub fix: &'static str,
    /// The grants it can happen to.
    pub grants: Grants,
    /// The inference from the request logs, if the cause has one.
    pub infer: Option<Infer>,
}

impl Rule {
    /// Whether this cause can happen to a request of `grant` (an unknown
    /// grant fits every cause).
    pub fn fits(&self, grant: Option<&GrantType>) -> bool {
        match (self.grants, grant) {
            (Grants::Any, _) | (_, None) => true,
            (Grants::Code, Some(g)) => *g == GrantType::AuthorizationCode,
            (Grants::Refresh, Some(g)) => *g == GrantType::RefreshToken,
        }
    }
}
