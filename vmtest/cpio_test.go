package vmtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entry is one parsed newc record.
type entry struct {
	name         string
	mode         uint32
	rmaj, rmin   uint32
	data         []byte
	headerOffset int
}

// parseNewc is an independent reader used to check the writer: it decodes
// every field it needs from the fixed 110-byte header and enforces the
// four-byte alignment of names and data.
func parseNewc(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		require.NoError(t, err)
		return uint32(v)
	}
	for {
		require.Zero(t, off%4, "header at %d not aligned", off)
		require.LessOrEqual(t, off+110, len(b))
		require.Equal(t, "070701", string(b[off:off+6]))
		e := entry{mode: field(1), rmaj: field(9), rmin: field(10), headerOffset: off}
		size, nameSize := int(field(6)), int(field(11))
		name := b[off+110 : off+110+nameSize]
		require.Equal(t, byte(0), name[nameSize-1], "name not NUL-terminated")
		e.name = string(name[:nameSize-1])
		off += 110 + nameSize
		off += (4 - off%4) % 4
		e.data = b[off : off+size]
		off += size
		off += (4 - off%4) % 4
		if e.name == "TRAILER!!!" {
			require.Equal(t, len(b), off, "bytes after the trailer")
			return out
		}
		out = append(out, e)
	}
}

func TestCPIOWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewCPIOWriter(&buf)
	require.NoError(t, w.Dir("/dev", 0o755))
	require.NoError(t, w.CharDev("dev/console", 0o600, 5, 1))
	require.NoError(t, w.File("/init", 0o755, []byte("hello")))
	require.NoError(t, w.File("/empty", 0o644, nil))
	require.Error(t, w.File("/", 0o644, nil), "the root is not an entry")
	require.NoError(t, w.Close())
	require.Error(t, w.File("/late", 0o644, nil))

	got := parseNewc(t, buf.Bytes())
	require.Len(t, got, 4)
	assert.Equal(t, "dev", got[0].name)
	assert.Equal(t, uint32(0o040755), got[0].mode)
	assert.Equal(t, "dev/console", got[1].name)
	assert.Equal(t, uint32(0o020600), got[1].mode)
	assert.Equal(t, [2]uint32{5, 1}, [2]uint32{got[1].rmaj, got[1].rmin})
	assert.Equal(t, "init", got[2].name)
	assert.Equal(t, uint32(0o100755), got[2].mode)
	assert.Equal(t, "hello", string(got[2].data))
	assert.Empty(t, got[3].data)
}

// TestCPIOReadableByGNUCpio extracts an archive with GNU cpio, when it is
// installed, as a check that does not share code with the writer.
func TestCPIOReadableByGNUCpio(t *testing.T) {
	bin, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("GNU cpio is not installed")
	}
	data := bytes.Repeat([]byte("0123456789"), 1001) // not a multiple of 4
	archive, err := BuildInitramfs([]byte("#!/bin/true\n"), map[string][]byte{"/lib/x/odd.bin": data})
	require.NoError(t, err)
	dir := t.TempDir()
	list := exec.Command(bin, "-it", "--quiet")
	list.Stdin = bytes.NewReader(archive)
	out, err := list.Output()
	require.NoError(t, err)
	assert.Equal(t, "dev proc sys tmp lib dev/console init lib/x lib/x/odd.bin", strings.Join(strings.Fields(string(out)), " "))

	// Extract everything but the device node (extraction may not be allowed
	// to create one).
	extract := exec.Command(bin, "-id", "--quiet", "-f", "dev/console")
	extract.Dir = dir
	extract.Stdin = bytes.NewReader(archive)
	out, err = extract.CombinedOutput()
	require.NoError(t, err, "%s", out)
	got, err := os.ReadFile(filepath.Join(dir, "lib/x/odd.bin"))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	st, err := os.Stat(filepath.Join(dir, "init"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())
}

func TestParseConsole(t *testing.T) {
	serial := "SeaBIOS\r\n" +
		"  | REPORT limit 100663296\r\n" +
		"VMTEST RESULT v2-docker PASS limit=100663296 forced_gcs=3 (1.2s)\r\n" +
		"[    2.0] some kernel line VMTEST RESULT v2-oomkill FAIL worker exit status 0 (0.1s)\r\n" +
		"VMTEST RESULT bogus MAYBE\r\n" +
		"VMTEST FATAL no cgroup\r\n" +
		"VMTEST DONE in 3.0s\r\n"
	run := parseConsole(strings.NewReader(serial))
	assert.True(t, run.Done)
	assert.Equal(t, []string{"VMTEST FATAL no cgroup"}, run.Fatal)
	require.Len(t, run.Results, 2)
	assert.Equal(t, Result{"v2-docker", true, "limit=100663296 forced_gcs=3 (1.2s)"}, run.Results["v2-docker"])
	assert.False(t, run.Results["v2-oomkill"].Pass)
	assert.Equal(t, "worker exit status 0 (0.1s)", run.Results["v2-oomkill"].Details)
}
