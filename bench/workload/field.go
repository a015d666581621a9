package main

// The shapes of the field-problem scenarios: a steady file writer that
// leaves dirty page cache behind it (filewriter), many small pointer-y
// allocations (activecache-small), and waiting with the live heap built
// (limitcut, idle).

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// writeLoop appends to path (which must not exist, on a disk-backed file
// system) at rate bytes/s in 256 KiB writes, paced in 10 ms slots, until
// done. It never syncs: what it writes stays dirty in the page cache,
// charged to this cgroup, until the kernel writes it back. It adds the bytes
// written to n. The caller removes the file.
func writeLoop(done <-chan struct{}, path string, rate uint64, n *atomic.Uint64) error {
	if err := diskBacked(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	const slot = 10 * time.Millisecond
	perSlot := uint64(float64(rate) * slot.Seconds())
	buf := make([]byte, 256<<10)
	var written uint64
	start := time.Now()
	for s := 1; ; s++ {
		select {
		case <-done:
			return nil
		default:
		}
		for target := perSlot * uint64(s); written < target; {
			chunk := buf[:min(uint64(len(buf)), target-written)]
			// Not all alike, so nothing below could dedupe or compress it.
			for j := 0; j+8 <= len(chunk); j += 512 {
				copy(chunk[j:], strconv.AppendUint(chunk[j:j], written+uint64(j), 36))
			}
			m, err := f.Write(chunk)
			written += uint64(m)
			n.Add(uint64(m))
			if err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
		}
		if sleep := time.Until(start.Add(time.Duration(s) * slot)); sleep > 0 {
			time.Sleep(sleep)
		}
	}
}

// allocSmall allocates total bytes of short-lived garbage as fast as it
// can, in slices of 2 to 40 pointers (16 to 320 bytes), each pointing at
// records of the live set, keeping the last 4096 reachable. It returns the
// bytes allocated. Pointer-y objects this small cost the allocator and the
// GC per object, not per byte: this is the shape of a program building
// small structs, maps and closures.
func allocSmall(live *liveSet, total uint64) uint64 {
	var window [4096][]*record
	var allocated uint64
	var x uint32 = 2463534242
	recs := live.recs
	for i := 0; allocated < total; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		k := 2 + int(x%39)
		p := make([]*record, k)
		if len(recs) > 0 {
			p[0] = recs[int(x>>8)%len(recs)]
			p[k-1] = recs[int(x>>16)%len(recs)]
		}
		window[i%len(window)] = p
		allocated += uint64(k) * 8
	}
	runtime.KeepAlive(window)
	return allocated
}

// waitUntil sleeps until t (the measured phase starts then).
func waitUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}
