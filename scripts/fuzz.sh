#!/usr/bin/env bash
# Runs every go test -fuzz target in the module for a while each.
# Usage: scripts/fuzz.sh [DURATION]   e.g. 5s in CI, 10m locally.
set -euo pipefail
budget=${1:-20s}
cd "$(dirname "$0")/.."
found=0
while IFS= read -r line; do
  file=${line%%:*}; fn=${line#*:}
  pkg=./$(dirname "$file")
  found=$((found+1))
  echo "fuzz: $pkg $fn ($budget)"
  go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$budget" "$pkg"
done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed -E 's/func //' | sort -u)
echo "fuzz: $found targets ran for $budget each"
