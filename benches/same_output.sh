#!/usr/bin/env bash
# Whether two builds give the same `analyze --json` output on every file and
# every folder of tests/corpus/ and sample_logs/: the check each speed change
# of issue 14 is kept by (benches/README.md). Prints the inputs that differ
# and a count; exits 1 when any differ.
#
#   benches/same_output.sh /tmp/grantwatch-before target/release/grantwatch
set -euo pipefail
base="$1"
new="$2"
cd "$(dirname "$0")/.."
inputs=0
differ=0
while IFS= read -r input; do
    inputs=$((inputs + 1))
    a=$("$base" analyze --json "$input" 2>/dev/null | md5sum)
    b=$("$new" analyze --json "$input" 2>/dev/null | md5sum)
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
