#!/usr/bin/env bash
# Whether two builds give the same `analyze --json` output on every file and
# every folder of tests/corpus/ and sample_logs/: the check each speed change
# of issue 14 is kept by (benches/README.md). Prints the inputs that differ
# and a count; exits 1 when any differ.
#
#   benches/same_output.sh /tmp/grantwatch-before target/release/grantwatch
#
# Extra `analyze` arguments go in ANALYZE_ARGS, the same for both builds:
# with `-j 2 --range-bytes 3000 --chunk-bytes 4000` every input of more
# than a few kilobytes is read in ranges and loaded in bulk, as a large log is.
set -euo pipefail
base="${1:?usage: benches/same_output.sh BASE_BINARY NEW_BINARY}"
new="${2:?usage: benches/same_output.sh BASE_BINARY NEW_BINARY}"
for build in "$base" "$new"; do
    # A folder or a missing file would stop the loop below at its first
    # input without a word (`set -e`).
    [ -f "$build" ] && [ -x "$build" ] || {
        echo "same_output.sh: $build is not an executable file (give the grantwatch binary)" >&2
        exit 2
    }
done
read -r -a extra <<< "${ANALYZE_ARGS:-}"
cd "$(dirname "$0")/.."
inputs=0
differ=0
while IFS= read -r input; do
    inputs=$((inputs + 1))
    a=$("$base" analyze "${extra[@]}" --json "$input" 2>/dev/null | md5sum)
    b=$("$new" analyze "${extra[@]}" --json "$input" 2>/dev/null | md5sum)
    if [ "$a" != "$b" ]; then
        differ=$((differ + 1))
        echo "differs: $input"
    fi
done < <({
    find tests/corpus sample_logs -type f ! -name '*.md' ! -name 'cases.json' ! -name 'expected.json'
    find tests/corpus sample_logs -type d
} | sort)
echo "inputs $inputs, differ $differ"
[ "$differ" = 0 ]
