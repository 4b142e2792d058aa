//! The allocator's memory given back to the system at the moment a peak
//! would count it twice.
//!
//! The binary runs on mimalloc (`main.rs`), which keeps freed pages for a
//! while (`PURGE_DELAY_MS` there) before it gives them back: under a flood
//! of small requests that saves work. When a scratch load ends, though, the
//! keys and orders it gathered in chunks are joined into exactly sized
//! vectors (`store/chunked.rs`) and sorted, and every chunk freed there
//! stayed resident beside its copy until the delay passed: the Rails 3 GB
//! log peaked anywhere between 54 and 65 MB from one run to the next, and
//! at 54–56 MB with the delay lifted for that step alone
//! ([`purging_promptly`]); with no delay at all, 51–52 MB, but the
//! Keycloak gigabyte then spent a tenth more of its time in system calls
//! (benches/README.md).
//!
//! Invariant: the delay in force before is in force after, and the
//! `system-alloc` build (heaptrack, massif) is left as it is.

// The allocator's library linked also where it is not the global
// allocator (the library's tests), so that the functions below resolve.
#[cfg(not(feature = "system-alloc"))]
extern crate mimalloc as _;

/// The few of mimalloc's functions this binary calls. Declared here with
/// their option numbers (`mi_option_purge_delay` is 15 in its v2 and v3
/// headers: retired options keep their slots) because the `mimalloc` crate
/// exports none of them, and libmimalloc-sys' bindings (its `extended`
/// feature) pull in another crate and still leave this option out.
#[cfg(not(feature = "system-alloc"))]
pub mod mi {
    use std::ffi::{c_int, c_long};

    /// `mi_option_arena_eager_commit`.
    pub const OPTION_ARENA_EAGER_COMMIT: c_int = 4;
    /// `mi_option_purge_delay`, in milliseconds.
    pub const OPTION_PURGE_DELAY: c_int = 15;

    unsafe extern "C" {
        /// Sets an option.
        pub fn mi_option_set(option: c_int, value: c_long);
        /// An option's value.
        pub fn mi_option_get(option: c_int) -> c_long;
        /// Frees what can be freed; with `force`, gives it back now.
        pub fn mi_collect(force: bool);
    }
}

/// Runs `f` with freed pages given back at once, then gives back what
/// is still kept, and sets the delay in force before again.
pub fn purging_promptly<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(not(feature = "system-alloc"))]
    // SAFETY: reads and sets an option of the allocator linked into this
    // binary (0 and the value read back are valid for it), and asks it to
    // give back freed memory, which it may do at any time.
    unsafe {
        let before = mi::mi_option_get(mi::OPTION_PURGE_DELAY);
        mi::mi_option_set(mi::OPTION_PURGE_DELAY, 0);
        let value = f();
        mi::mi_collect(true);
        mi::mi_option_set(mi::OPTION_PURGE_DELAY, before);
        value
    }
    #[cfg(feature = "system-alloc")]
    f()
}
