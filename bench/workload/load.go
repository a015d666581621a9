package main

// The memory shapes the scenarios are built from: mmap'd memory outside the
// Go heap, a live heap, garbage churn, spikes and page cache reads.

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// mmapTouched maps n bytes of anonymous memory and writes every page, so it
// is charged to the cgroup right away.
func mmapTouched(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", n, err)
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b, nil
}

// touch writes one byte per page, as a program filling its buffers would:
// fresh spans from the OS are not zeroed by the allocator, so untouched
// buffers would never become resident.
func touch(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = byte(i)
	}
	if len(b) > 0 {
		b[len(b)-1] = 1
	}
}

// liveSet is the long-lived heap: a table of records (pointerful, so marking
// costs something), a tenth of which is replaced every second.
type liveSet struct {
	recs []*record
	next int
}

type record struct {
	key  string
	data []byte
}

const recordSize = 8 << 10

func newLiveSet(bytes int) *liveSet {
	n := bytes / recordSize
	s := &liveSet{recs: make([]*record, n)}
	for i := range s.recs {
		s.recs[i] = newRecord(i)
	}
	return s
}

func newRecord(i int) *record {
	r := &record{key: strconv.Itoa(i), data: make([]byte, recordSize-64)}
	touch(r.data)
	return r
}

// replace swaps out n records for new ones.
func (s *liveSet) replace(n int) {
	if len(s.recs) == 0 {
		return
	}
	for ; n > 0; n-- {
		s.recs[s.next] = newRecord(s.next)
		s.next = (s.next + 1) % len(s.recs)
	}
}

// churn allocates short-lived buffers at rate bytes/s until rate×d bytes are
// allocated, replacing a tenth of the live set per second on the way. A small
// window of recent buffers stays reachable, as in-flight requests would. It
// returns the bytes allocated; it takes longer than d when GC slows it down.
func churn(live *liveSet, rate uint64, d time.Duration) uint64 {
	const slot = 10 * time.Millisecond
	total := uint64(float64(rate) * d.Seconds())
	perSlot := uint64(float64(rate) * slot.Seconds())
	replacePerSlot := len(live.recs) / 10 / int(time.Second/slot)
	if replacePerSlot == 0 {
		replacePerSlot = 1
	}
	var window [64][]byte
	var allocated uint64
	var x uint32 = 2463534242
	start := time.Now()
	for s := 1; allocated < total; s++ {
		// Allocate up to this slot's share of the total, so that overshoot
		// in one slot is paid back by the next.
		target := min(perSlot*uint64(s), total)
		for allocated < target {
			// xorshift: sizes from 512 B to 64 KiB.
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			n := 512 << (x % 8)
			b := make([]byte, n)
			touch(b)
			window[x%uint32(len(window))] = b
			allocated += uint64(n)
		}
		live.replace(replacePerSlot)
		// Pace: wait for the slot's deadline if ahead. When GC slows the
		// loop down, it runs behind and the run takes longer than d.
		if sleep := time.Until(start.Add(time.Duration(s) * slot)); sleep > 0 {
			time.Sleep(sleep)
		}
	}
	runtime.KeepAlive(window)
	return allocated
}

// spikes builds up n bytes of extra live heap over ~300 ms, holds it, drops
// it, and waits for the next period, until done. The first spike starts
// half a period in.
func spikes(done <-chan struct{}, n int) {
	next := time.Now().Add(*spikeEvery / 2)
	for {
		select {
		case <-done:
			return
		case <-time.After(time.Until(next)):
		}
		next = next.Add(*spikeEvery)
		const chunk = 256 << 10
		const rampSteps = 30
		spike := make([][]byte, 0, n/chunk)
		perStep := n / chunk / rampSteps
		for len(spike) < n/chunk {
			for i := 0; i < perStep+1 && len(spike) < n/chunk; i++ {
				b := make([]byte, chunk)
				touch(b)
				spike = append(spike, b)
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case <-done:
			return
		case <-time.After(*spikeHold):
		}
		runtime.KeepAlive(spike)
	}
}

// readLoop reads path from start to end over and over into a small buffer,
// until done. The kernel keeps what it reads in the page cache, charged to
// this cgroup; nothing is dropped.
func readLoop(done <-chan struct{}, path string, n *atomic.Uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		select {
		case <-done:
			return nil
		default:
		}
		m, err := f.Read(buf)
		n.Add(uint64(m))
		if err == io.EOF {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}
