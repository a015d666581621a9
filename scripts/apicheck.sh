#!/usr/bin/env bash
# apicheck: fail if this module's exported API is incompatible with
# github.com/raulk/go-watchdog v1.3.0, as apidiff judges it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
apidiff_version=v0.0.0-20261113113407-e3970619a1a4
bin=$(go env GOPATH)/bin/apidiff
if ! "$bin" -h >/dev/null 2>&1; then
	go install "golang.org/x/exp/cmd/apidiff@${apidiff_version}"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The old API: v1.3.0 from the module proxy, in a throwaway module.
(
	cd "$tmp"
	go mod init apicheck.invalid >/dev/null 2>&1
	printf 'package p\n\nimport _ "github.com/raulk/go-watchdog"\n' >p.go
	go get github.com/raulk/go-watchdog@v1.3.0 >/dev/null 2>&1
	GOOS=linux "$bin" -w "$tmp/old.api" github.com/raulk/go-watchdog
)
(cd "$here" && GOOS=linux "$bin" -w "$tmp/new.api" github.com/raulk/go-watchdog)
report=$("$bin" "$tmp/old.api" "$tmp/new.api")
echo "$report"
if "$bin" -incompatible "$tmp/old.api" "$tmp/new.api" | grep -q .; then
	echo "apicheck: incompatible changes against v1.3.0 (see above)" >&2
	exit 1
fi
echo "apicheck: no incompatible change against github.com/raulk/go-watchdog v1.3.0"
