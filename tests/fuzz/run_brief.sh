#!/bin/sh
# A brief libFuzzer run of every C target (CI, where clang exists):
#   tests/fuzz/run_brief.sh [SECONDS]     (default 20 per target)
# Builds the targets (build.sh) into tests/fuzz/build, fuzzes each for SECONDS from its
# corpus and regressions (new inputs go to a scratch folder, the committed corpus is
# not touched), and exits nonzero at the first finding, leaving the input in
# tests/fuzz/brief-logs/<target>/ (copy it to regressions/<target>/ once understood).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-20}
"$here/build.sh" "$here/build" >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in $(grep -v '^#' "$here/targets.txt" | awk '$2 == "c" {print $1}'); do
    logs=$here/brief-logs/$t
    rm -rf "$logs" && mkdir -p "$logs/work"
    set -- "$here/corpus/$t"
    [ -d "$here/regressions/$t" ] && set -- "$@" "$here/regressions/$t"
    if "$here/build/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$logs/" "$logs/work" "$@" >"$logs/log" 2>&1; then
        echo "$t: $(grep -h 'stat::number_of_executed_units' "$logs/log" | awk '{print $2}') executions, no finding"
    else
        echo "$t: FINDING, see $logs/log and $logs/" >&2
        tail -30 "$logs/log" >&2
        status=1
        break
    fi
done
exit $status
