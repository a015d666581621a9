//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxProcCgroup bounds how much of a /proc/<pid>/cgroup file is read. The
// kernel writes one line per mounted hierarchy (a dozen or so), each path at
// most PATH_MAX (4096) bytes, so real files stay far below it.
const maxProcCgroup = 1 << 20

// parseProcCgroup reads a /proc/<pid>/cgroup file (see cgroups(7)) and
// returns the cgroup v1 path of each controller, keyed by controller name
// ("memory", "cpuacct", "name=systemd"), and the cgroup v2 path ("" when the
// file has no v2 entry).
func parseProcCgroup(file string) (v1 map[string]string, v2 string, err error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	// One read buffer, grown as needed: the file's size is 0 in stat.
	b, err := io.ReadAll(io.LimitReader(f, maxProcCgroup+1))
	if err != nil {
		return nil, "", err
	}
	if len(b) > maxProcCgroup {
		return nil, "", fmt.Errorf("%s is longer than %d bytes; a /proc/<pid>/cgroup file never is", file, maxProcCgroup)
	}
	return parseProcCgroupData(file, string(b))
}

// procCgroupError is a line of a /proc/<pid>/cgroup file that breaks a rule
// of its format.
type procCgroupError struct {
	file string
	line int    // from 1
	text string // the line, shortened when long
	rule string
}

func (e *procCgroupError) Error() string {
	return fmt.Sprintf("%s line %d: %q: %s", e.file, e.line, e.text, e.rule)
}

// errProcCgroup is wrapped by every format error of parseProcCgroupData.
var errProcCgroup = errors.New("malformed cgroup membership line")

func (e *procCgroupError) Unwrap() error { return errProcCgroup }

// parseProcCgroupData parses the contents of a /proc/<pid>/cgroup file; file
// names it in errors. Each line is hierarchy-ID:controller-list:cgroup-path:
//
//	4:memory:/user.slice
//	2:cpu,cpuacct:/user.slice
//	1:name=systemd:/user.slice/session-1.scope
//	0::/user.slice/session-1.scope
//
// The first two colons separate the fields: the path may hold more. A cgroup
// v1 hierarchy lists its controllers (and its name=, if any) joined by
// commas; the cgroup v2 entry has hierarchy ID 0 and no controllers. The
// returned paths are substrings of data.
func parseProcCgroupData(file, data string) (v1 map[string]string, v2 string, err error) {
	v1 = make(map[string]string)
	bad := func(n int, line, rule string) error {
		return &procCgroupError{file: file, line: n, text: shorten(line), rule: rule}
	}
	rest := data
	for n := 1; rest != ""; n++ {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		id, after, ok1 := strings.Cut(line, ":")
		list, path, ok2 := strings.Cut(after, ":")
		switch {
		case !ok1 || !ok2:
			return nil, "", bad(n, line, "want hierarchy-ID:controller-list:cgroup-path (two colons at least)")
		case !isDecimal(id):
			return nil, "", bad(n, line, fmt.Sprintf("the hierarchy ID %q is not a decimal number", shorten(id)))
		case !strings.HasPrefix(path, "/"):
			return nil, "", bad(n, line, fmt.Sprintf("the cgroup path %q does not start with /", shorten(path)))
		}
		if list == "" {
			if id != "0" {
				return nil, "", bad(n, line, fmt.Sprintf("an empty controller list marks the cgroup v2 entry, whose hierarchy ID is 0, not %s", id))
			}
			if v2 != "" {
				return nil, "", bad(n, line, "a second cgroup v2 (0::) entry")
			}
			v2 = path
			continue
		}
		for more := true; more; {
			var name string
			name, list, more = strings.Cut(list, ",")
			if name == "" {
				return nil, "", bad(n, line, "an empty name in the comma-separated controller list")
			}
			if _, dup := v1[name]; dup {
				return nil, "", bad(n, line, fmt.Sprintf("controller %q is already on an earlier line; a controller belongs to one hierarchy", shorten(name)))
			}
			v1[name] = path
		}
	}
	return v1, v2, nil
}

// shorten cuts s to 100 bytes for an error message.
func shorten(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
