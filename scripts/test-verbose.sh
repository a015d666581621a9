#!/usr/bin/env bash
# test-verbose: go test -v without -race, printing which tests ran, skipped
# (with the reason) or failed, and the whole output if anything failed.
set -uo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -count=1 -v "$@" >"$out" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	cat "$out"
	exit "$rc"
fi
grep -E '^\s*(--- (PASS|FAIL|SKIP)|ok|FAIL)|^\s+\S+_test\.go:[0-9]+: ' "$out"
exit 0
