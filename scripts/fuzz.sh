#!/usr/bin/env bash
# Runs every go test -fuzz target in the module, one after the other, and
# prints each target's execution rate on one core.
# Usage: scripts/fuzz.sh [DURATION] [TARGET-REGEXP]
#   DURATION   per target: 5s in CI, 10m for a long session (make fuzz-long)
#   TARGET     only targets whose "pkg/FuzzName" matches (grep -E)
# Environment: FUZZ_PARALLEL workers per target (default 1: the rate is
# per core), FUZZ_MIN_RATE fails a target below that many exec/s (default
# 0: a loaded machine makes rates noisy, so CI reports without failing),
# FUZZ_TABLE writes the rate table (markdown) to that file, FUZZ_MINIMIZE
# bounds the minimisation of new interesting inputs and crashers (default
# 0, none: go's 60 s default spends a short run minimising, and its
# "execs" count leaves minimisation runs out, so rates would be wrong;
# make fuzz-long sets 30s).
#
# A target fails when go test writes a reproducer to testdata/fuzz/ or
# exits non-zero for any other reason. Go 1.26's fuzz coordinator can end a
# duration-bounded run with a bare "context deadline exceeded" and no
# crasher (golang/go#75804, fixed in 1.27); that is counted as a harness
# flake, not a finding.
set -uo pipefail
budget=${1:-20s}
only=${2:-.}
parallel=${FUZZ_PARALLEL:-1}
minrate=${FUZZ_MIN_RATE:-0}
minimize=${FUZZ_MINIMIZE:-0}
cd "$(dirname "$0")/.."
ran=0 failed=0 flaked=0 slow=0
table=$'| package | target | execs | seconds | exec/s |\n|---|---|---:|---:|---:|'
while IFS= read -r line; do
  file=${line%%:*}; fn=${line#*:}
  dir=$(dirname "$file")
  grep -qE "$only" <<<"$dir/$fn" || continue
  corpus="$dir/testdata/fuzz/$fn"
  before=$(ls "$corpus" 2>/dev/null | sort)
  ran=$((ran+1))
  out=$(go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$budget" -parallel "$parallel" -fuzzminimizetime "$minimize" "./$dir" 2>&1); rc=$?
  after=$(ls "$corpus" 2>/dev/null | sort)
  # The coordinator logs "fuzz: elapsed: 5s, execs: 6210 (1242/sec), ..."
  # every 3 s and once at the end; the rate reported here is the last
  # line's total over its elapsed time (baseline coverage included), not
  # the last interval's.
  last=$(grep -E 'fuzz: elapsed: [0-9]+s, execs: [0-9]+ ' <<<"$out" | tail -1)
  execs=$(sed -nE 's/.*execs: ([0-9]+) .*/\1/p' <<<"$last")
  secs=$(sed -nE 's/.*elapsed: ([0-9]+)s,.*/\1/p' <<<"$last")
  rate=0
  [ -n "$execs" ] && [ "${secs:-0}" -gt 0 ] && rate=$((execs / secs))
  printf 'fuzz: %-22s %-26s %9s execs %3ss %7d/s\n' "./$dir" "$fn" "${execs:-?}" "${secs:-?}" "$rate"
  table+=$'\n'"| $dir | $fn | ${execs:-?} | ${secs:-?} | $rate |"
  if [ "$rate" -lt 1000 ]; then slow=$((slow+1)); fi
  if [ $rc -eq 0 ]; then
    if [ "$minrate" -gt 0 ] && [ "$rate" -lt "$minrate" ]; then
      failed=$((failed+1)); echo "fuzz: FAIL $fn: $rate exec/s, below FUZZ_MIN_RATE=$minrate"
    fi
    continue
  fi
  if [ "$before" != "$after" ]; then
    failed=$((failed+1))
    echo "$out" | tail -30
    echo "fuzz: FAIL $fn: new reproducer in $corpus (commit it as a regression test once fixed)"
  elif grep -q "context deadline exceeded" <<<"$out"; then
    flaked=$((flaked+1))
    echo "fuzz: $fn stopped by the Go fuzz-coordinator deadline race (golang/go#75804); no crasher written"
  else
    failed=$((failed+1))
    echo "$out" | tail -30
    echo "fuzz: FAIL $fn"
  fi
done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed -E 's|^\./||; s/func //' | sort -u)
[ -n "${FUZZ_TABLE:-}" ] && printf '%s\n' "$table" >"$FUZZ_TABLE"
echo "fuzz: $((ran-failed)) passed, $failed failed ($flaked stopped by the coordinator race), $slow below 1000 exec/s, $budget each on $parallel worker(s)"
[ $failed -eq 0 ]
