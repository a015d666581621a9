//go:build linux

package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostLikeCgroup is a cgroup v1 host's /proc/self/cgroup, with a
// comma-joined hierarchy, a named one and the cgroup2 line.
const hostLikeCgroup = `12:pids:/user.slice/user-1000.slice/session-2.scope
11:cpu,cpuacct:/user.slice
10:net_cls,net_prio:/
4:memory:/user.slice/user-1000.slice/session-2.scope
1:name=systemd:/user.slice/user-1000.slice/session-2.scope
0::/user.slice/user-1000.slice/session-2.scope
`

func TestParseProcCgroup(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		v1         map[string]string
		v2         string
	}{
		{"host", hostLikeCgroup, map[string]string{
			"pids": "/user.slice/user-1000.slice/session-2.scope", "cpu": "/user.slice", "cpuacct": "/user.slice",
			"net_cls": "/", "net_prio": "/", "memory": "/user.slice/user-1000.slice/session-2.scope",
			"name=systemd": "/user.slice/user-1000.slice/session-2.scope",
		}, "/user.slice/user-1000.slice/session-2.scope"},
		{"v2 only", "0::/\n", map[string]string{}, "/"},
		{"v1 only, no final newline", "4:memory:/docker/abc", map[string]string{"memory": "/docker/abc"}, ""},
		{"empty", "", map[string]string{}, ""},
		{"colons in paths", "4:memory:/a:b::c\n0::/x:1:\n", map[string]string{"memory": "/a:b::c"}, "/x:1:"},
		{"named hierarchy with controllers", "3:cpu,name=mine:/a\n", map[string]string{"cpu": "/a", "name=mine": "/a"}, ""},
		{"outside the namespace root", "4:memory:/../../x\n", map[string]string{"memory": "/../../x"}, ""},
		{"removed v2 group", "0::/app (deleted)\n", map[string]string{}, "/app (deleted)"},
	} {
		v1, v2, err := parseProcCgroupData("cgroup", tt.data)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.v1, v1, tt.name)
		assert.Equal(t, tt.v2, v2, tt.name)
	}
}

func TestParseProcCgroupErrors(t *testing.T) {
	for _, tt := range []struct {
		data string
		line int
		rule string
	}{
		{"garbage\n", 1, "want hierarchy-ID:controller-list:cgroup-path"},
		{"4:memory:/a\n\n0::/\n", 2, "want hierarchy-ID:controller-list:cgroup-path"},
		{"4:memory\n", 1, "two colons at least"},
		{":memory:/a\n", 1, `the hierarchy ID "" is not a decimal number`},
		{"0::/\n-1:memory:/a\n", 2, `the hierarchy ID "-1" is not a decimal number`},
		{"x4:memory:/a\n", 1, "not a decimal number"},
		{"4:memory:\n", 1, `the cgroup path "" does not start with /`},
		{"4:memory:app\n", 1, `the cgroup path "app" does not start with /`},
		{"3::/a\n", 1, "the cgroup v2 entry, whose hierarchy ID is 0, not 3"},
		{"0::/a\n4:memory:/a\n0::/b\n", 3, "a second cgroup v2 (0::) entry"},
		{"2:cpu,,cpuacct:/\n", 1, "an empty name in the comma-separated controller list"},
		{"2:cpu,:/\n", 1, "an empty name"},
		{"2:,cpu:/\n", 1, "an empty name"},
		{"4:memory:/a\n5:cpu,memory:/b\n", 2, `controller "memory" is already on an earlier line`},
		{"1:cpu,cpu:/\n", 1, `controller "cpu" is already on an earlier line`},
	} {
		v1, v2, err := parseProcCgroupData("/proc/7/cgroup", tt.data)
		require.Error(t, err, "%q", tt.data)
		assert.Nil(t, v1)
		assert.Empty(t, v2)
		assert.ErrorIs(t, err, errProcCgroup)
		var pe *procCgroupError
		require.True(t, errors.As(err, &pe))
		assert.Equal(t, tt.line, pe.line, "%q: %v", tt.data, err)
		assert.Contains(t, err.Error(), "/proc/7/cgroup line ", "%q", tt.data)
		assert.Contains(t, err.Error(), tt.rule, "%q", tt.data)
	}

	// A long line is shortened in the message.
	_, _, err := parseProcCgroupData("cgroup", "1:cpu:"+strings.Repeat("x", 5000))
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 400, err.Error())
}

func TestParseProcCgroupFile(t *testing.T) {
	dir := t.TempDir()
	_, _, err := parseProcCgroup(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	big := filepath.Join(dir, "big")
	write(t, big, strings.Repeat("1:cpu:/"+strings.Repeat("a", 1000)+"\n", maxProcCgroup/1000))
	_, _, err = parseProcCgroup(big)
	assert.ErrorContains(t, err, big+" is longer than 1048576 bytes")

	// Every fixture tree's file parses, and so does this host's.
	files, err := filepath.Glob("testdata/*/proc/*/cgroup")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range append(files, "/proc/self/cgroup") {
		v1, v2, err := parseProcCgroup(f)
		if f == "/proc/self/cgroup" && errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err, f)
		assert.True(t, len(v1) > 0 || v2 != "", "%s: no entry", f)
	}

	// Through discover, the error names the file and line.
	cfg := copyFixture(t, "v1-limited")
	write(t, filepath.Join(cfg.ProcRoot, "self/cgroup"), "4:memory:/app\n2:cpu,,cpuacct:/app\n")
	_, err = Open(cfg)
	assert.ErrorContains(t, err, "self/cgroup line 2")
	assert.ErrorContains(t, err, "empty name")
}

// The parser copies the file once and takes its paths from that copy: a
// handful of allocations whatever the number of lines.
func TestParseProcCgroupAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := parseProcCgroupData("cgroup", hostLikeCgroup); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("parseProcCgroupData: %.0f allocations for %d lines", allocs, strings.Count(hostLikeCgroup, "\n"))
	assert.LessOrEqual(t, allocs, 6.0)
}
