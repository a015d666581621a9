#!/usr/bin/env bash
# depcheck: the library's dependency budget.
#
#  1. Binary weight. Builds, for linux/amd64 with CGO_ENABLED=0 and
#     -ldflags='-s -w', (a) a program that prints an error with fmt and (b)
#     the same program printing the error watchdog.CgroupDriven returns.
#     Fails if (b) - (a), what importing the watchdog adds to a program, is
#     over DEPCHECK_BUDGET bytes (default 1200000). The baseline prints with
#     fmt because nearly every program links fmt, and the watchdog cannot
#     print without it: an empty baseline would charge fmt to the watchdog.
#     Prints both sizes, the difference, and the packages that weigh most in
#     (b) and not in (a).
#  2. Import graph. Fails if the library's packages (., auto,
#     watchdogexpvar; for linux and darwin) import protobuf, dbus, systemd,
#     runtime-spec or a test-only module, or any module not on the allowlist
#     below: a new dependency is a decision, made by editing this list.
#  3. Module graph. Fails if `go mod graph` of the root module names
#     runtime-spec or any containerd/cgroups module: the graph, not only the
#     imports, is what Go's minimal version selection lifts in a caller's
#     build (scripts/dropin.sh builds such a caller).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
budget=${DEPCHECK_BUDGET:-1200000}
libpkgs=(. ./auto ./watchdogexpvar)
# Modules the library may link. Everything else fails the check.
allowed=(
	github.com/raulk/go-watchdog
	github.com/benbjohnson/clock
	github.com/elastic/gosigar
	golang.org/x/sys
)
# Named so the failure says what came back; all are outside the allowlist too.
denied='google.golang.org/protobuf|github.com/godbus/|github.com/coreos/go-systemd|github.com/opencontainers/runtime-spec|github.com/stretchr/testify|go.uber.org/goleak|github.com/davecgh/go-spew|github.com/pmezard/go-difflib|gopkg.in/yaml|go.yaml.in/yaml|github.com/prometheus/'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# --- 1. binary weight ---
mkdir -p "$tmp/empty" "$tmp/hello"
printf 'module depcheck.invalid/empty\n\ngo 1.25\n' >"$tmp/empty/go.mod"
printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(error(nil)) }\n' >"$tmp/empty/main.go"
cat >"$tmp/hello/go.mod" <<EOF
module depcheck.invalid/hello

go 1.25

require github.com/raulk/go-watchdog v1.4.0

replace github.com/raulk/go-watchdog => $here
EOF
cp "$here/go.sum" "$tmp/hello/go.sum"
cat >"$tmp/hello/main.go" <<'EOF'
package main

import (
	"fmt"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

func main() {
	err, _ := watchdog.CgroupDriven(time.Second, watchdog.NewWatermarkPolicy(0.5, 0.9))
	fmt.Println(err)
}
EOF
build() { # dir out [extra flags]
	(cd "$1" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -mod=mod -trimpath "${@:3}" -o "$2" .)
}
build "$tmp/empty" "$tmp/empty.bin" -ldflags='-s -w'
build "$tmp/hello" "$tmp/hello.bin" -ldflags='-s -w'
a=$(stat -c %s "$tmp/empty.bin")
b=$(stat -c %s "$tmp/hello.bin")
diff=$((b - a))
printf 'depcheck: fmt program %d bytes; CgroupDriven hello-world %d bytes; overhead %d bytes (budget %d)\n' "$a" "$b" "$diff" "$budget"

# Where the weight is: symbol sizes per package in unstripped builds,
# hello-world less the fmt program. Symbols only: the tables that come with
# them (pclntab, type data) add roughly as much again.
build "$tmp/empty" "$tmp/empty.full"
build "$tmp/hello" "$tmp/hello.full"
per_pkg() {
	go tool nm -size "$1" | awk '{
		name = $4; sub(/^type:/, "", name); sub(/^\*/, "", name); sub(/^go:itab\.\*?/, "", name)
		if (name ~ /^go:/) { size["(go:func.*,go:string.*)"] += $2; next }
		slash = 0; for (i = length(name); i > 0; i--) if (substr(name, i, 1) == "/") { slash = i; break }
		rest = substr(name, slash + 1); dot = index(rest, ".")
		pkg = dot ? substr(name, 1, slash + dot - 1) : name
		size[pkg] += $2
	} END { for (p in size) print p, size[p] }'
}
per_pkg "$tmp/empty.full" >"$tmp/empty.pkgs"
per_pkg "$tmp/hello.full" >"$tmp/hello.pkgs"
echo "depcheck: largest additions by package (symbol bytes, unstripped):"
awk 'NR == FNR { base[$1] = $2; next } { d = $2 - base[$1]; if (d > 0) print d, $1 }' "$tmp/empty.pkgs" "$tmp/hello.pkgs" |
	sort -rn | head -20 | awk '{ printf "  %9d  %s\n", $1, $2 }'
for std in log/slog runtime/pprof net/http encoding/json; do
	n=$(awk -v p="$std" '$1 == p || index($1, p "/") == 1 { s += $2 } END { print s + 0 }' "$tmp/hello.pkgs")
	printf '  %s linked: %s\n' "$std" "$([ "$n" -gt 0 ] && echo "yes, $n symbol bytes" || echo no)"
done
if [ "$diff" -gt "$budget" ]; then
	echo "depcheck: FAIL: the hello-world is $diff bytes over the fmt program; the budget is $budget" >&2
	fail=1
fi

# --- 2. import graph ---
cd "$here"
for goos in linux darwin; do
	pkgs=$(GOOS=$goos go list -deps "${libpkgs[@]}")
	if bad=$(grep -E "^($denied)" <<<"$pkgs"); then
		echo "depcheck: FAIL: the library imports, for GOOS=$goos:" >&2
		sed 's/^/  /' <<<"$bad" >&2
		fail=1
	fi
	mods=$(GOOS=$goos go list -deps -f '{{with .Module}}{{.Path}}{{end}}' "${libpkgs[@]}" | sort -u)
	for m in $mods; do
		if ! printf '%s\n' "${allowed[@]}" | grep -qxF "$m"; then
			echo "depcheck: FAIL: module $m is linked into the library (GOOS=$goos) but is not on the allowlist in scripts/depcheck.sh" >&2
			fail=1
		fi
	done
	echo "depcheck: GOOS=$goos modules: $(echo $mods | tr '\n' ' ')"
done

# --- 3. module graph ---
if bad=$(go mod graph | grep -E '(^| )(github.com/opencontainers/runtime-spec|github.com/containerd/cgroups)'); then
	echo "depcheck: FAIL: go mod graph of the root module names modules that would lift a caller's runtime-spec or containerd/cgroups:" >&2
	sed 's/^/  /' <<<"$bad" >&2
	fail=1
fi
echo "depcheck: go mod graph: $(go mod graph | wc -l) edges, no runtime-spec, no containerd/cgroups"
if [ "$fail" -ne 0 ]; then
	exit 1
fi
echo "depcheck: ok"
