package watchdog

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["heap-profile-fsize"] = childHeapProfileFsize
}

type heapProfFsizeResult struct {
	Files    []string
	Warnings []string
	Left     uint
}

// childHeapProfileFsize has a profiler capture a profile while the file
// size limit (RLIMIT_FSIZE) is one byte: the write fails after the first
// byte, with EFBIG (the Go runtime ignores SIGXFSZ).
func childHeapProfileFsize() (any, error) {
	rec := &recLogger{}
	SetLogger(rec)
	HeapProfileDir, HeapProfileThreshold = os.Getenv(heapProfDirEnv), 0.5
	p := newProfiler()
	if p == nil {
		return nil, fmt.Errorf("no profiler: %q", rec.lines)
	}
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &saved); err != nil {
		return nil, err
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 1, Max: saved.Max}); err != nil {
		return nil, err
	}
	p.observe(900, 1000)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(HeapProfileDir)
	if err != nil {
		return nil, err
	}
	res := heapProfFsizeResult{Warnings: rec.withLevel("WARN"), Left: p.left}
	for _, e := range entries {
		res.Files = append(res.Files, e.Name())
	}
	return res, nil
}

// TestProfilerRemovesHalfWrittenProfile: a profile whose write fails
// part-way is removed, and capture stops with one warning.
func TestProfilerRemovesHalfWrittenProfile(t *testing.T) {
	dir := t.TempDir()
	var res heapProfFsizeResult
	runChildTest(t, "heap-profile-fsize", &res, heapProfDirEnv+"="+dir)
	assert.Empty(t, res.Files, "no half-written profile is left")
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "file too large")
	assert.Contains(t, res.Warnings[0], "heap profiles disabled")
	assert.Zero(t, res.Left, "capture is off")
}
