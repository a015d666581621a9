//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "42\n", " 7 \t\r\n", "max\n", "9223372036854771712\n", "4611686018427387904",
		"18446744073709551615", "18446744073709551616", "-1", "+1", "1_000", "0x10", "1 2", "", "\n", "1\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		trimmed := strings.Trim(string(b), " \t\n\r")
		v, ok := parseUint(b)
		want, err := strconv.ParseUint(trimmed, 10, 64)
		if ok != (err == nil) || ok && v != want {
			t.Fatalf("parseUint(%q) = %d, %v; strconv.ParseUint = %d, %v", b, v, ok, want, err)
		}
		// Limits: values from 2^62 up, and "max" for v2, mean no limit.
		if v >= unlimited {
			v = ^uint64(0)
		}
		if lim, err := parseV1Limit("memory.limit_in_bytes", b); ok != (err == nil) || ok && lim != v {
			t.Fatalf("parseV1Limit(%q) = %d, %v; want %d, %v", b, lim, err, v, ok)
		}
		if trimmed == "max" {
			v, ok = ^uint64(0), true
		}
		if lim, err := parseV2Limit("memory.max", b); ok != (err == nil) || ok && lim != v {
			t.Fatalf("parseV2Limit(%q) = %d, %v; want %d, %v", b, lim, err, v, ok)
		}
	})
}

func FuzzStatValue(f *testing.F) {
	f.Add([]byte("cache 4096\ntotal_inactive_file 8192\ninactive_file 7\n"), "inactive_file", uint64(42))
	f.Add([]byte("inactive_file_x 1\ninactive_file\t2\ninactive_file  3\r\n"), "inactive_file", uint64(0))
	f.Add([]byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), "oom", uint64(1<<63))
	f.Add([]byte("hierarchical_memory_limit lots\n \n\n"), "hierarchical_memory_limit", uint64(1))
	f.Add([]byte(" 5\nkey"), "", uint64(7))
	f.Fuzz(func(t *testing.T, data []byte, key string, val uint64) {
		// Any input: statLine finds the same line as statValue.
		v, found, ok := statValue(data, key)
		raw := statLine(data, key)
		if !found && raw != "" {
			t.Fatalf("statValue(%q, %q) not found but statLine = %q", data, key, raw)
		}
		if pv, pok := parseUint([]byte(raw)); found && (pv != v || pok != ok) {
			t.Fatalf("statValue(%q, %q) = %d, %v; statLine = %q", data, key, v, ok, raw)
		}
		// A well-formed line is found behind decoy keys that extend it,
		// and the decoys do not shadow each other.
		k := keep(key, "_", "inactive_file")
		var doc strings.Builder
		fmt.Fprintf(&doc, "total_%s %d\n%s_x %d\n%s\t%d\n", k, val^1, k, val^2, k, val^3)
		for _, l := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(l, k+" ") {
				doc.WriteString(l + "\n")
			}
		}
		fmt.Fprintf(&doc, "%s %d\n%s", k, val, data)
		b := []byte(doc.String())
		if v, found, ok := statValue(b, k); !found || !ok || v != val {
			t.Fatalf("statValue(%q, %q) = %d, %v, %v; want %d", b, k, v, found, ok, val)
		}
		if v, _, ok := statValue(b, "total_"+k); !ok || v != val^1 {
			t.Fatalf("statValue(%q, total_%s) = %d, %v; want %d", b, k, v, ok, val^1)
		}
	})
}

// FuzzStatValues checks the one-pass reader Reclaimable uses against
// statValue, key by key, and the file cache against its definition.
func FuzzStatValues(f *testing.F) {
	for _, name := range []string{"v1-dirty-over.stat", "v1-old-kernel.stat", "v2-dirty-over.stat", "v2-old-kernel.stat"} {
		b, err := os.ReadFile(filepath.Join("testdata/stat", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "active_file", "total_dirty")
	}
	f.Add([]byte("active_file 1\nactive_file 2\ninactive_file x\n  \nfile_dirty 3"), "inactive_file", "")
	f.Add([]byte(" 5\nfile_writeback 18446744073709551615\nactive_file 18446744073709551615\n"), "", "x y")
	f.Fuzz(func(t *testing.T, data []byte, k1, k2 string) {
		for _, keys := range []reclaimKeys{v1ReclaimKeys, v2ReclaimKeys, {k1, k2, keep(k1, "_", "a"), keep(k2, "_", "b")}} {
			if strings.Contains(keys[0], " ") || strings.Contains(keys[1], " ") {
				continue // keys never hold a space
			}
			v, found, ok := statValues(data, &keys)
			for i, k := range keys {
				wv, wfound, wok := statValue(data, k)
				if k == "" { // "" is no key
					wv, wfound, wok = 0, false, false
				}
				if v[i] != wv || found[i] != wfound || ok[i] != wok {
					t.Fatalf("statValues(%q) key %q = %d, %v, %v; statValue = %d, %v, %v", data, k, v[i], found[i], ok[i], wv, wfound, wok)
				}
			}
			got, err := fileCache(data, "memory.stat", &keys)
			if wantErr := !found[0] || !found[1] || !ok[0] || !ok[1]; wantErr != (err != nil) {
				t.Fatalf("fileCache(%q, %q) error %v; want one: %v", data, keys, err, wantErr)
			}
			cache := new(big.Int).Add(new(big.Int).SetUint64(v[0]), new(big.Int).SetUint64(v[1]))
			// Saturation only when the sum overflows.
			if err == nil && (cache.IsUint64() && got != cache.Uint64() || !cache.IsUint64() && got != 1<<64-1) {
				t.Fatalf("fileCache(%q, %q) = %d; want %s", data, keys, got, cache)
			}
		}
	})
}

// keep returns the lower-case letters, digits and extra runes of s, or def
// if there are none.
func keep(s, extra, def string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(extra, r) || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if s == "" {
		return def
	}
	return s
}

// mangle escapes a path as the kernel does in mountinfo.
var mangle = strings.NewReplacer(`\`, `\134`, " ", `\040`, "\t", `\011`, "\n", `\012`).Replace

func FuzzUnescapeOctal(f *testing.F) {
	for _, s := range []string{`/a\040b`, `mem\134ory`, `\011\012`, `\0`, `\04`, `\777`, `\8000`, `\\040`, `x\`, "/a b\t\n\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u := unescapeOctal(s)
		if len(u) > len(s) || !strings.Contains(s, `\`) && u != s {
			t.Fatalf("unescapeOctal(%q) = %q", s, u)
		}
		if got := unescapeOctal(mangle(s)); got != s {
			t.Fatalf("unescapeOctal(%q) = %q; want %q", mangle(s), got, s)
		}
	})
}

func write(tb testing.TB, path, s string) {
	if err := errors.Join(os.MkdirAll(filepath.Dir(path), 0o755), os.WriteFile(path, []byte(s), 0o644)); err != nil {
		tb.Fatal(err)
	}
}

// writeAndParse writes data to file and parses it.
func writeAndParse(t *testing.T, file string, data []byte) ([]mount, error) {
	write(t, file, string(data))
	return parseMountinfo(file)
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n35 31 0:32 /a\\040b /sys/fs/cgroup/memory rw shared:15 master:2 - cgroup cgroup rw,memory\n"), "docker/abc", "sys/fs/cgroup", "rw,nsdelegate")
	f.Add([]byte("35 31 0:32 / /x rw\n"), "a b\\c", "mnt\tx\n", "")
	f.Add([]byte("1 2 3 4 5 6 -\n1 2 3 4 5 6 - cgroup2\n"), "", "", ",,")
	f.Add([]byte("0 0 0 0 0 0 - cgroup 0"), "", "", "") // once panicked: no super options field
	f.Add([]byte(""), "a\v-\vb", "x", "rw")             // \v is not escaped by the kernel
	f.Add([]byte(""), "a", "mnt/a\u00a0b", "rw")        // U+00A0 is not a separator
	file := filepath.Join(f.TempDir(), "mountinfo")
	f.Fuzz(func(t *testing.T, data []byte, root, point, opts string) {
		mounts, err := writeAndParse(t, file, data)
		if err != nil {
			mounts, data = nil, nil
		}
		for _, m := range mounts {
			if m.fstype != "cgroup" && m.fstype != "cgroup2" || len(m.superOpts) == 0 {
				t.Fatalf("parseMountinfo(%q) returned %+v", data, m)
			}
		}
		// Appending a kernel-formatted cgroup2 line yields one more mount
		// whose fields round-trip.
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n')
		}
		o := keep(opts, ",=_", "rw")
		want := mount{root: "/" + root, point: "/" + point, fstype: "cgroup2", superOpts: strings.Split(o, ",")}
		line := fmt.Sprintf("36 35 0:33 %s %s rw,nosuid shared:9 - cgroup2 cgroup2 %s\n", mangle(want.root), mangle(want.point), o)
		got, err := writeAndParse(t, file, append(data, line...))
		if err != nil || len(got) != len(mounts)+1 || fmt.Sprint(got[len(got)-1]) != fmt.Sprint(want) {
			t.Fatalf("line %q: parseMountinfo = %+v, %v; want %+v last", line, got, err, want)
		}
	})
}

func FuzzRelativeTo(f *testing.F) {
	for _, s := range [][2]string{{"/a/b", "/"}, {"/docker/abc/sub", "/docker/abc"}, {"/docker/abcd", "/docker/abc"},
		{"/", "/docker/abc"}, {"/../x", "/"}, {"a/../../b", ".."}, {"", ""}, {"//a//b/", "/a/"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, root string) {
		if rel, ok := relativeTo(p, root); ok {
			if filepath.IsAbs(rel) || filepath.Join(filepath.Clean(root), rel) != filepath.Clean(p) {
				t.Fatalf("relativeTo(%q, %q) = %q: does not join back", p, root, rel)
			}
			if filepath.IsAbs(p) && filepath.IsAbs(root) && (rel == ".." || strings.HasPrefix(rel, "../")) {
				t.Fatalf("relativeTo(%q, %q) = %q: escapes root", p, root, rel)
			}
		}
		if rel, ok := relativeTo(filepath.Join("/"+root, "x"), "/"+root); !ok || rel != "x" {
			t.Fatalf("relativeTo(%q/x, %q) = %q, %v", "/"+root, "/"+root, rel, ok)
		}
	})
}

// procCgroupLine is one line of /proc/<pid>/cgroup as cgroups(7) has it.
var procCgroupLine = regexp.MustCompile(`^([0-9]+):([^:]*):(/.*)$`)

// refParseProcCgroup is parseProcCgroupData written from the rules, line by
// line with a regular expression: the paths, or the number of the first
// line that breaks a rule.
func refParseProcCgroup(data string) (v1 map[string]string, v2 string, badLine int) {
	lines := strings.Split(data, "\n")
	if lines[len(lines)-1] == "" { // the final newline, or an empty file
		lines = lines[:len(lines)-1]
	}
	v1 = map[string]string{}
	for i, l := range lines {
		m := procCgroupLine.FindStringSubmatch(l)
		switch {
		case m == nil:
			return nil, "", i + 1
		case m[2] == "" && (m[1] != "0" || v2 != ""):
			return nil, "", i + 1
		case m[2] == "":
			v2 = m[3]
		}
		for _, c := range strings.Split(m[2], ",") {
			if _, dup := v1[c]; m[2] != "" && (c == "" || dup) {
				return nil, "", i + 1
			}
			if m[2] != "" {
				v1[c] = m[3]
			}
		}
	}
	return v1, v2, 0
}

func FuzzParseProcCgroup(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/proc/*/cgroup")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(string(b))
	}
	for _, s := range []string{"12:pids:/a\n11:cpu,cpuacct:/\n1:name=systemd:/a:b\n0::/a (deleted)\n", "0::/\n0::/\n",
		"4:memory\n", ":::", "1::/\n", "2:a,,b:/\n", "2:a,b,a:/", "\n", "0::/\r\n", "99999999999999999999:x:/\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		v1, v2, err := parseProcCgroupData("cg", data)
		rv1, rv2, bad := refParseProcCgroup(data)
		if bad != 0 {
			var pe *procCgroupError
			if !errors.As(err, &pe) || pe.line != bad || !strings.HasPrefix(err.Error(), fmt.Sprintf("cg line %d: ", bad)) {
				t.Fatalf("parseProcCgroupData(%q) error %v; want one for line %d", data, err, bad)
			}
			return
		}
		if err != nil || v2 != rv2 || fmt.Sprint(v1) != fmt.Sprint(rv1) {
			t.Fatalf("parseProcCgroupData(%q) = %v, %q, %v; want %v, %q", data, v1, v2, err, rv1, rv2)
		}
		// One line per controller, in any order, gives the same paths.
		var lines []string
		for c, p := range v1 {
			lines = append(lines, fmt.Sprintf("%d:%s:%s\n", len(lines)+1, c, p))
		}
		if v2 != "" {
			lines = append(lines, "0::"+v2+"\n")
		}
		sort.Strings(lines)
		again, again2, err := parseProcCgroupData("cg", strings.Join(lines, ""))
		if err != nil || again2 != v2 || fmt.Sprint(again) != fmt.Sprint(v1) {
			t.Fatalf("one line per controller %q = %v, %q, %v; want %v, %q", lines, again, again2, err, v1, v2)
		}
	})
}

// FuzzDiscover covers the mount selection (pickMount, translate) on any
// /proc/self/cgroup and mountinfo; FuzzParseProcCgroup covers the former's
// parser alone.
func FuzzDiscover(f *testing.F) {
	dirs, _ := filepath.Glob("testdata/*/proc/self")
	for _, d := range dirs { // the fixtures
		cg, _ := os.ReadFile(filepath.Join(d, "cgroup"))
		mi, _ := os.ReadFile(filepath.Join(d, "mountinfo"))
		f.Add(string(cg), string(mi))
	}
	f.Add("4:memory:/../../..\n", "1 2 0:1 .. /sys/fs/cgroup/memory rw - cgroup cgroup memory\n")
	f.Add(":memory:", "0 0 0 0 0 0 - cgroup 0") // once panicked in parseMountinfo
	proc, fsRoot := f.TempDir(), f.TempDir()
	write(f, filepath.Join(fsRoot, "sys/fs/cgroup/cgroup.controllers"), "cpu memory\n")
	write(f, filepath.Join(fsRoot, "sys/fs/cgroup/memory/app/memory.max"), "max\n")
	f.Fuzz(func(t *testing.T, cgroup, mountinfo string) {
		write(t, filepath.Join(proc, "self/cgroup"), cgroup)
		if _, err := writeAndParse(t, filepath.Join(proc, "self/mountinfo"), []byte(mountinfo)); err != nil {
			return
		}
		loc, err := discover(Config{ProcRoot: proc, FSRoot: fsRoot})
		if err != nil {
			return
		}
		if loc.version != 1 && loc.version != 2 {
			t.Fatalf("discover: version %d", loc.version)
		}
		if _, ok := relativeTo(loc.dir, loc.top); !ok && !strings.Contains(cgroup, "..") {
			t.Fatalf("discover: dir %s is not under top %s", loc.dir, loc.top)
		}
	})
}
