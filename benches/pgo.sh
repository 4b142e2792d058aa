#!/usr/bin/env bash
# Makes the execution profile release builds are optimized by
# (`pgo/grantwatch.profdata`, used through `pgo/rustc.sh`): builds an
# instrumented `grantwatch`, runs `analyze` over logs of every shape the
# benches time (Rails bare and in CRI, docker and syslog envelopes,
# Keycloak in three formats, Hydra in two) and over the sample logs and
# the corpus, and merges what the runs counted. The training logs are
# generated with seeds of their own (the benches' logs use seed 1), 40 MB
# or 8 MB each, so the profile is of the workload, not of the logs timed.
#
#   benches/pgo.sh            # about four minutes on two cores
#
# Needs `llvm-profdata` of the LLVM the compiler is built on (`rustc -vV`;
# Debian: `apt-get install llvm-22` for LLVM 22). Run it again after
# changing code on the hot paths: a function changed since the profile
# was made is compiled as without one.
set -euo pipefail
cd "$(dirname "$0")/.."
llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
profdata="$(command -v "llvm-profdata-$llvm_major" || echo "/usr/lib/llvm-$llvm_major/bin/llvm-profdata")"
[ -x "$profdata" ] || {
    echo "benches/pgo.sh: needs llvm-profdata of LLVM $llvm_major (Debian: apt-get install llvm-$llvm_major)" >&2
    exit 2
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/raw" "$work/logs"

echo "== instrumented build"
# The wrapper off (it would add the old profile), the flag to every crate.
RUSTC_WRAPPER="" CARGO_TARGET_DIR="$work/target" \
    RUSTFLAGS="-Cprofile-generate=$work/raw" \
    cargo build --release --bins
bin="$work/target/release/grantwatch"
# The build scripts ran instrumented too: their counts are not the analysis's.
rm -f "$work"/raw/*

echo "== training logs"
logs="$work/logs"
"$work/target/release/grantwatch-gen" --size 40M --oauth-share 0.03 --seed 7 "$logs/rails.log" > /dev/null
awk '{printf "2025-03-11T08:00:00.%09dZ stdout F %s\n", NR, $0}' "$logs/rails.log" > "$logs/rails-cri.log"
python3 benches/docker-wrap.py < "$logs/rails.log" > "$logs/rails-docker.log"
awk '{print "Mar 11 09:00:00 web1 rails[4711]: " $0}' "$logs/rails.log" > "$logs/rails-syslog.log"
gen() { python3 benches/gen_server_logs.py --failure-share 0.05 "$@" > /dev/null; }
gen --server keycloak --size 40M --seed 7 "$logs/kc.log"
gen --server keycloak --format json --size 8M --seed 8 "$logs/kc-json.log"
gen --server keycloak --format quarkus21 --size 8M --seed 9 "$logs/kc21.log"
gen --server hydra --size 40M --seed 7 "$logs/hydra.log"
gen --server hydra --format text --size 8M --seed 8 "$logs/hydra-text.log"

echo "== training runs"
for log in "$logs"/*.log; do
    "$bin" analyze --json "$log" > /dev/null
done
"$bin" analyze sample_logs > /dev/null
"$bin" analyze --json tests/corpus > /dev/null

echo "== merge"
# Sparse: functions that never ran are left out (a fifth of the size).
"$profdata" merge --sparse -o pgo/grantwatch.profdata "$work"/raw/*.profraw
rustc -vV | grep -E '^(release|host|LLVM version): ' > pgo/made-with.txt
ls -l pgo/grantwatch.profdata
cat pgo/made-with.txt
# Cargo does not know the profile is an input: the release build is made
# anew with it.
cargo clean --profile release
