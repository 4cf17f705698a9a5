#!/bin/bash
# The long fuzzing campaign: every target in turn, one libFuzzer process each.
#   tests/fuzz/campaign.sh [TARGET ...]       (default: every target of targets.txt)
# Environment:
#   C_RUNS=10000000  PY_RUNS=1000000   executions per C / Python target
#   C_TIME=  PY_TIME=                  a time cap per target in seconds (0: none; unset:
#                                      the cap_s column of targets.txt)
#   WORKERS=1                          libFuzzer -jobs/-workers per target
#   ZWF_TOLERATE=SafetensorError,...   Python targets: exception classes already reported,
#                                      logged to LOG/artifacts/<t>/known/ without stopping
#   LOG=tests/fuzz/campaign-logs       logs, the working corpora, artifacts (gitignored)
#   BIN=dir                            reuse the binaries built by an earlier run (no build)
#   RSS_MB=2560                        libFuzzer -rss_limit_mb
# The C targets are built from a snapshot of the committed csrc/ (git archive HEAD), so
# a half-edited working tree cannot leak into the campaign; the commit is logged. Each
# target fuzzes a working copy of its seeds + regressions; new inputs that add coverage
# stay in LOG/work/<target> (merge them back with `-merge=1` if wanted). Crashes, leaks,
# timeouts (-timeout=20 s) and OOMs (-rss_limit_mb=2560) land in LOG/artifacts/<target>/.
# At the end a summary line per target (executions, cov, ft, seconds, findings) goes to
# LOG/summary.txt, from libFuzzer's -print_final_stats and its last status line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LOG=${LOG:-$here/campaign-logs}
C_RUNS=${C_RUNS:-10000000}
PY_RUNS=${PY_RUNS:-1000000}
C_TIME=${C_TIME:-}
PY_TIME=${PY_TIME:-}
WORKERS=${WORKERS:-1}
PY=${PY:-$root/.venv/bin/python}
mkdir -p "$LOG/work" "$LOG/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:malloc_context_size=5:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# build from the committed csrc (BIN=dir: reuse the binaries of an earlier run there)
if [ -n "${BIN:-}" ]; then
    echo "campaign: binaries of $BIN ($(cat "$BIN/../build.txt" 2>/dev/null | head -1))" | tee -a "$LOG/summary.txt"
else
    BIN=$LOG/bin
    snap=$LOG/csrc-snapshot
    rm -rf "$snap" && mkdir -p "$snap"
    commit=$(git -C "$root" rev-parse HEAD)
    git -C "$root" archive HEAD csrc | tar -x -C "$snap"
    echo "campaign: csrc of commit $commit ($(git -C "$root" log -1 --format=%cI HEAD))" | tee "$LOG/build.txt"
    ZW_CSRC=$snap/csrc "$here/build.sh" "$BIN" >>"$LOG/build.txt" 2>&1 || { echo "build failed, see $LOG/build.txt"; exit 1; }
fi

want=("$@")
summary() { # target log kind seconds
    local t=$1 log=$2 secs=$3
    local execs cov ft fnd
    execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -hoE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -hoE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    fnd=$(ls "$LOG/artifacts/$t" 2>/dev/null | grep -cE '^(crash|leak|timeout|oom|slow-unit)-')
    known=$(ls "$LOG/artifacts/$t/known" 2>/dev/null | grep -c '^known-[0-9a-f]*$')
    printf '%-14s execs %-10s cov %-6s ft %-6s time %6ss findings %s known %s\n' "$t" "$execs" "${cov:-?}" "${ft:-?}" "$secs" "$fnd" "$known" |
        tee -a "$LOG/summary.txt"
}

grep -v '^#' "$here/targets.txt" | while read -r t kind maxlen capcol; do
    [ -z "$t" ] && continue
    if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $t " ]]; then continue; fi
    work=$LOG/work/$t
    mkdir -p "$work" "$LOG/artifacts/$t"
    cp -n "$here/corpus/$t/"* "$work/" 2>/dev/null
    cp -n "$here/regressions/$t/"* "$work/" 2>/dev/null
    log=$LOG/$t.log
    [ -e "$log" ] && log=$LOG/$t.$(date +%H%M%S).log  # a later run of the same target
    if [ "$kind" = c ]; then
        cmd=("$BIN/fuzz_$t")
        runs=$C_RUNS
        cap=${C_TIME:-$capcol}
    else
        cmd=(env ZWF_KNOWN_DIR="$LOG/artifacts/$t/known" "$PY" "$here/py/fuzz_${t#py_}.py")
        runs=$PY_RUNS
        cap=${PY_TIME:-$capcol}
    fi
    args=(-runs="$runs" -max_len="$maxlen" -timeout=20 -rss_limit_mb="${RSS_MB:-2560}" -print_final_stats=1
          -artifact_prefix="$LOG/artifacts/$t/" -close_fd_mask=0)
    [ "$cap" != 0 ] && args+=(-max_total_time="$cap")
    echo "campaign: $t start $(date -u +%FT%TZ) ${cmd[*]} ${args[*]}" | tee -a "$LOG/summary.txt"
    start=$(date +%s)
    if [ "$WORKERS" -gt 1 ]; then
        # -jobs: each job stops after -runs executions; runs split over the jobs
        jruns=$((runs / WORKERS))
        args=("${args[@]/-runs=$runs/-runs=$jruns}")
        (cd "$LOG" && "${cmd[@]}" "${args[@]}" -jobs="$WORKERS" -workers="$WORKERS" "$work" >"$log" 2>&1)
        cat "$LOG"/fuzz-*.log >>"$log" 2>/dev/null && rm -f "$LOG"/fuzz-*.log
    else
        "${cmd[@]}" "${args[@]}" "$work" >"$log" 2>&1
    fi
    echo "exit status $?" >>"$log"
    summary "$t" "$log" $(( $(date +%s) - start ))
done
echo "campaign: done $(date -u +%FT%TZ)" | tee -a "$LOG/summary.txt"
