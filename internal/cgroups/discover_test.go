//go:build linux

package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRelativeTo(t *testing.T) {
	for _, tt := range []struct {
		p, root, rel string
		ok           bool
	}{
		{"/a/b", "/", "a/b", true},
		{"/", "/", "", true},
		{"/docker/abc", "/docker/abc", "", true},
		{"/docker/abc/sub", "/docker/abc", "sub", true},
		{"/docker/abcd", "/docker/abc", "", false},
		{"/", "/docker/abc", "", false},
	} {
		rel, ok := relativeTo(tt.p, tt.root)
		assert.Equal(t, tt.rel, rel, "%s in %s", tt.p, tt.root)
		assert.Equal(t, tt.ok, ok, "%s in %s", tt.p, tt.root)
	}
}

func TestParseMountinfo(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mountinfo")
	require.NoError(t, os.WriteFile(file, []byte(
		"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"+
			"35 31 0:32 /a\\040b /sys/fs/cgroup/mem\\134ory rw,relatime shared:15 master:2 - cgroup cgroup rw,cpu,memory\n"+
			"30 22 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"), 0o644))
	mounts, err := parseMountinfo(file)
	require.NoError(t, err)
	assert.Equal(t, []mount{
		{root: "/a b", point: `/sys/fs/cgroup/mem\ory`, fstype: "cgroup", superOpts: []string{"rw", "cpu", "memory"}},
		{root: "/", point: "/sys/fs/cgroup/unified", fstype: "cgroup2", superOpts: []string{"rw", "nsdelegate"}},
	}, mounts)

	require.NoError(t, os.WriteFile(file, []byte("35 31 0:32 / /x rw\n"), 0o644))
	_, err = parseMountinfo(file)
	assert.ErrorContains(t, err, file+" line 1")
}

func TestDiscoverErrors(t *testing.T) {
	_, err := Open(Config{ProcRoot: "testdata/does-not-exist"})
	assert.ErrorContains(t, err, "testdata/does-not-exist/self/cgroup")

	cfg := copyFixture(t, "v1-limited")
	require.NoError(t, os.WriteFile(filepath.Join(cfg.ProcRoot, "self/cgroup"), []byte("garbage\n"), 0o644))
	_, err = Open(cfg)
	assert.ErrorContains(t, err, "self/cgroup")
}

func TestTranslateFallsBackToMountPoint(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "mnt/a"), 0o755))
	m := mount{root: "/", point: "/mnt", fstype: "cgroup2"}
	assert.Equal(t, filepath.Join(root, "mnt/a"), translate(root, 2, "/a", m).dir)
	assert.Equal(t, filepath.Join(root, "mnt"), translate(root, 2, "/gone", m).dir, "missing directory")
	assert.Equal(t, filepath.Join(root, "mnt"), translate(root, 2, "/../x", m).dir, "outside the namespace root")
	assert.Equal(t, filepath.Join(root, "mnt"), translate(root, 2, "/a", m).top)
}
