#!/usr/bin/env bash
# dropin: the lotus-like build. A caller that imports the old
# github.com/containerd/cgroups v1.0.4 (its root package and its v2 package)
# beside github.com/raulk/go-watchdog must build with this module in place of
# v1.3.0, and go mod tidy must not lift what v1.3.0 left alone.
#
# For each caller go line in DROPIN_GO_LINES (default "1.18 1.21 1.22": the
# line of lotus's go.mod when it required cgroups v1.0.4 and watchdog
# v1.3.0, then two later ones), it writes the same caller twice in a
# temporary directory: "v130" requires go-watchdog v1.3.0 from the module
# proxy, "this" replaces it with this repository. Both get go mod tidy and
# go build. It fails when either fails, when the two select different
# versions of github.com/opencontainers/runtime-spec or
# github.com/containerd/cgroups, when containerd/cgroups/v3 enters the
# graph, when tidy sets a go line above both the caller's and this module's,
# or when it adds a toolchain line. It prints what tidy changed between the
# two go.mod files and between the two build lists.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lines=${DROPIN_GO_LINES:-1.18 1.21 1.22}
ours=$(awk '/^go /{print $2}' "$here/go.mod")
# The caller never switches toolchain and never sees a workspace.
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "dropin: FAIL: $*" >&2
	fail=1
}
# vmax A B: the higher of two go versions (1.21 sorts before 1.21.0, as in Go).
vmax() { printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1; }

write_caller() { # dir go-line [replace]
	mkdir -p "$1"
	cat >"$1/main.go" <<'EOF'
package main

import (
	"fmt"

	"github.com/containerd/cgroups"
	cgroupsv2 "github.com/containerd/cgroups/v2"
	watchdog "github.com/raulk/go-watchdog"
)

func main() {
	_ = cgroups.V1            // the cgroup v1 hierarchy of the old module
	_ = cgroupsv2.NewManager  // and its v2 package
	fmt.Println("unified:", cgroups.Mode() == cgroups.Unified)
	if err, stop := watchdog.HeapDriven(1<<30, 50, watchdog.NewAdaptivePolicy(0.5)); err == nil {
		stop()
	}
}
EOF
	gofmt -w "$1/main.go"
	cat >"$1/go.mod" <<EOF
module dropin.invalid/lotuslike

go $2

require (
	github.com/containerd/cgroups v1.0.4
	github.com/raulk/go-watchdog v1.3.0
)
EOF
	if [ -n "${3:-}" ]; then
		printf '\nreplace github.com/raulk/go-watchdog => %s\n' "$3" >>"$1/go.mod"
	fi
}

build() { # dir label
	if ! (cd "$1" && go mod tidy >"$1.tidy.log" 2>&1); then
		bad "$2: go mod tidy failed:"
		sed 's/^/  /' "$1.tidy.log" >&2
		return 1
	fi
	if ! (cd "$1" && go build -o /dev/null . >"$1.build.log" 2>&1); then
		bad "$2: go build failed:"
		sed 's/^/  /' "$1.build.log" >&2
		return 1
	fi
	(cd "$1" && go list -m all | sed 's/ => .*//') >"$1.modules"
	echo "dropin: $2: go mod tidy and go build ok"
}

selected() { # modules-file module
	awk -v m="$2" '$1 == m { print $2 }' "$1"
}

echo "dropin: $(go version); this module's go line: $ours"
for line in $lines; do
	old=$tmp/go$line/v130 new=$tmp/go$line/this
	write_caller "$old" "$line"
	write_caller "$new" "$line" "$here"
	build "$old" "go $line caller, go-watchdog v1.3.0" || continue
	build "$new" "go $line caller, this module" || continue

	echo "dropin: go $line caller: go.mod after go mod tidy, v1.3.0 (-) against this module (+):"
	diff -U0 <(grep -v '^replace ' "$old/go.mod") <(grep -v '^replace ' "$new/go.mod") | grep -v '^@@' | tail -n +3 | grep -vx '[-+]' | sed 's/^/  /' || true
	echo "dropin: go $line caller: selected module versions, v1.3.0 (-) against this module (+):"
	diff -U0 "$old.modules" "$new.modules" | grep -v '^@@' | tail -n +3 | grep -v 'github.com/raulk/go-watchdog' | sed 's/^/  /' || true

	for m in github.com/opencontainers/runtime-spec github.com/containerd/cgroups; do
		a=$(selected "$old.modules" "$m") b=$(selected "$new.modules" "$m")
		if [ "$a" != "$b" ]; then
			bad "go $line caller: $m is ${b:-absent} with this module, ${a:-absent} with v1.3.0"
		fi
	done
	if grep -q '^github.com/containerd/cgroups/v3 ' "$new.modules"; then
		bad "go $line caller: github.com/containerd/cgroups/v3 is in the build list"
	fi
	got=$(awk '/^go /{print $2}' "$new/go.mod")
	want=$(vmax "$(awk '/^go /{print $2}' "$old/go.mod")" "$ours")
	if [ "$got" != "$want" ]; then
		bad "go $line caller: go mod tidy set go $got; want go $want (the caller's or this module's, the higher)"
	fi
	if grep -q '^toolchain ' "$new/go.mod" && ! grep -q '^toolchain ' "$old/go.mod"; then
		bad "go $line caller: go mod tidy added a toolchain line: $(grep '^toolchain ' "$new/go.mod")"
	fi
done
if [ "$fail" -ne 0 ]; then
	exit 1
fi
echo "dropin: ok"
