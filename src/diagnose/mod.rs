//! Diagnosis: from a failure's case to one cause, a confidence, the other
//! candidates, a summary with the actual values, the fix, the evidence lines
//! and, when unsure, what log would settle it.
//!
//! Two sources of findings, combined per cause: the providers' own words
//! ([`phrases`]) and the inference rules over the request logs ([`rules`]).
//! When both point at the same cause the finding is certain. The highest
//! confidence wins, ties going to the cause the server checks first; every
//! other finding is kept as a candidate. Never a confident wrong answer: a
//! cause backed only by an ambiguous phrase or a weak link stays medium or
//! low, with `missing` saying what would settle it.

pub mod background;
pub mod case;
pub use crate::cause;
pub mod causes;
pub mod phrases;
pub mod revisit;
#[cfg(test)]
mod tests;

pub use causes::meaning;
pub use verdict::{Verdict, decide, failure_id, record};

mod parallel;
mod pipeline;
mod verdict;
pub use parallel::{Cores, run_on_cores};
pub use pipeline::{Batch, Diagnosed, RunStats, SLICE, diagnose_slice, run, write_batch};
