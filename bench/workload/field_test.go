package main

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestWriteLoop(t *testing.T) {
	dir := t.TempDir()
	if err := diskBacked(dir); err != nil {
		t.Skipf("temp dir not on disk: %v", err)
	}
	path := filepath.Join(dir, "w.dat")
	done := make(chan struct{})
	var n atomic.Uint64
	errc := make(chan error, 1)
	go func() { errc <- writeLoop(done, path, 8*mib, &n) }() // 8 MiB/s
	time.Sleep(300 * time.Millisecond)
	close(done)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// About 2.4 MiB; paced, so never more than the time allows.
	if got := uint64(fi.Size()); got != n.Load() || got < 1*mib || got > 4*mib {
		t.Errorf("wrote %d bytes (counted %d) in 0.3 s at 8 MiB/s", got, n.Load())
	}
	// It never overwrites a file.
	if err := writeLoop(done, path, mib, &n); err == nil {
		t.Error("writeLoop over an existing file: no error")
	}
}

func TestAllocSmall(t *testing.T) {
	live := newLiveSet(1 * mib)
	if got := allocSmall(live, 4*mib); got < 4*mib || got > 4*mib+320 {
		t.Errorf("allocSmall(4 MiB) = %d bytes", got)
	}
	if got := allocSmall(&liveSet{}, 1000); got < 1000 {
		t.Errorf("allocSmall without a live set = %d", got)
	}
}
