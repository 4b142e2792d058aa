#!/usr/bin/env bash
# Cargo's rustc wrapper (.cargo/config.toml, `build.rustc-wrapper`): gives
# every crate an optimized build compiles (`-C opt-level=3`, that is
# `cargo build --release`) the execution profile in this folder, so LLVM
# lays out and inlines the hot paths by what they did on real runs
# (profile-guided optimization). On the bench logs an analysis ran 8-15%
# fewer instructions and took 7-17% less wall time with it
# (benches/README.md, "profile-guided").
#
# The profile is used only by the compiler that made it (`made-with.txt`,
# from `rustc -vV`): another compiler's LLVM may not read its format, and
# its symbols would not match. Debug builds, `cargo clippy` and build
# scripts pass through unchanged. A function changed since the profile was
# made is compiled as without one (LLVM's mismatch warning is silenced);
# `benches/pgo.sh` makes the profile again.
#
# Cargo calls this as `pgo/rustc.sh RUSTC ARGS...` (with clippy,
# `pgo/rustc.sh clippy-driver RUSTC ARGS...`); RUSTC_WRAPPER= (empty) in
# the environment turns it off.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
profile="$here/grantwatch.profdata"

optimized=false
previous=""
for arg in "$@"; do
    if [[ "$arg" == "-Copt-level=3" || ("$previous" == "-C" && "$arg" == "opt-level=3") ]]; then
        optimized=true
    fi
    previous="$arg"
done

if $optimized && [[ -r "$profile" && -r "$here/made-with.txt" ]] &&
    [[ "$("$1" -vV 2> /dev/null | grep -E '^(release|host|LLVM version): ')" == "$(cat "$here/made-with.txt")" ]]; then
    exec "$@" "-Cprofile-use=$profile" -Cllvm-args=-no-pgo-warn-mismatch
fi
exec "$@"
