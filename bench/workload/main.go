// Command workload is the program the survival benchmarks run inside a
// memory-capped cgroup. The same source is built twice:
//
//	go build -o workload-this ./workload                                  # this repository (go.mod replaces it with ../)
//	go build -tags watchdog_v130 -modfile=go.v130.mod -o workload-v130 ./workload   # github.com/raulk/go-watchdog v1.3.0
//
// Both builds understand -strategy none|gomemlimit|watchdog; strategies that
// use API only this repository has are registered in strategies_this.go,
// which the v1.3.0 build leaves out.
//
// It runs a fixed amount of work (garbage churn at a paced rate for
// -duration), shaped by -scenario, and prints one JSON line on stdout at exit
// with the GC statistics. If the kernel OOM-kills it, it prints nothing; the
// runner notices the SIGKILL.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	watchdog "github.com/raulk/go-watchdog"
	"golang.org/x/sys/unix"
)

const mib = 1 << 20

// lotusWatermarks are the watermarks Lotus used with v1.3.0's CgroupDriven.
var lotusWatermarks = []float64{0.50, 0.60, 0.70, 0.85, 0.90, 0.925, 0.95}

// policy is the policy of the watchdog strategies: Lotus's watermarks, or
// a fixed threshold in the latency scenario.
var policy = watchdog.NewWatermarkPolicy(lotusWatermarks...)

// strategy sets up one way of keeping the process under its cap. capBytes is
// the cgroup limit. It returns a function that undoes it at exit.
type strategy func(capBytes uint64) (stop func(), err error)

// strategies maps -strategy values to their setup. strategies_this.go adds the
// ones that need this repository's API.
var strategies = map[string]strategy{
	"none": func(uint64) (func(), error) { return func() {}, nil },
	"gomemlimit": func(capBytes uint64) (func(), error) {
		debug.SetMemoryLimit(int64(float64(capBytes) * *gomemlimitFrac))
		return func() {}, nil
	},
	"watchdog": func(uint64) (func(), error) {
		err, stop := watchdog.CgroupDriven(time.Second, policy)
		if err != nil {
			return nil, err
		}
		return stop, nil
	},
}

var (
	strategyName   = flag.String("strategy", "none", "how to keep under the cap: "+strings.Join(strategyNames(), "|"))
	scenario       = flag.String("scenario", "heaponly", "offheap|offheap-growing|spike|heaponly|pagecache|latency")
	duration       = flag.Duration("duration", 6*time.Second, "nominal run time: the churn allocates -churn MiB/s for this long (the run takes longer if GC slows it)")
	capFlag        = flag.Uint64("cap", 0, "memory cap in bytes (0: read this process's cgroup limit)")
	liveMiB        = flag.Int("live", 40, "live heap in MiB, kept for the whole run (a tenth of it is replaced per second)")
	churnMiB       = flag.Int("churn", 600, "short-lived garbage in MiB per second")
	offheapMiB     = flag.Int("offheap", 0, "anonymous mmap'd memory in MiB, touched at start")
	offheapGrowMiB = flag.Int("offheap-grow", 0, "more mmap'd MiB added evenly over the run (offheap-growing)")
	spikeMiB       = flag.Int("spike", 0, "extra live heap in MiB built up, held and released periodically (spike)")
	spikeEvery     = flag.Duration("spike-every", 2500*time.Millisecond, "period of the spikes")
	spikeHold      = flag.Duration("spike-hold", time.Second, "how long a spike is held")
	file           = flag.String("file", "", "file to read over and over (pagecache)")
	gomemlimitFrac = flag.Float64("gomemlimit-frac", 0.9, "memory limit as a fraction of the cap (gomemlimit)")
)

// result is the JSON line printed at exit.
type result struct {
	Scenario      string  `json:"scenario"`
	Strategy      string  `json:"strategy"`
	Cap           uint64  `json:"cap"`
	WallSeconds   float64 `json:"wall_s"`
	GCs           uint64  `json:"gcs"`
	ForcedGCs     uint64  `json:"forced_gcs"`
	GCCPUFraction float64 `json:"gc_cpu_fraction"` // GC CPU time without idle mark workers over available CPU time, as MemStats.GCCPUFraction
	GCCPUSeconds  float64 `json:"gc_cpu_s"`        // the numerator
	GCIdleSeconds float64 `json:"gc_idle_s"`       // idle mark workers: GC work on otherwise idle Ps, left out above
	ChurnedMiB    uint64  `json:"churned_mib"`
	ReadMiB       uint64  `json:"read_mib,omitempty"`
}

func strategyNames() []string {
	names := make([]string, 0, len(strategies))
	for n := range strategies {
		names = append(names, n)
	}
	// small map; a simple insertion sort keeps the help text stable.
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
}

func run() error {
	start := time.Now()
	setup, ok := strategies[*strategyName]
	if !ok {
		return fmt.Errorf("unknown -strategy %q (have %s)", *strategyName, strings.Join(strategyNames(), ", "))
	}
	capBytes := *capFlag
	if capBytes == 0 {
		var err error
		if capBytes, err = cgroupLimit(); err != nil {
			return fmt.Errorf("reading the cgroup limit (pass -cap): %w", err)
		}
	}
	switch *scenario {
	case "offheap", "offheap-growing", "spike", "heaponly":
	case "pagecache":
		if *file == "" {
			return errors.New("-scenario pagecache needs -file")
		}
	case "latency":
		return runLatency(setup, capBytes)
	default:
		return fmt.Errorf("unknown -scenario %q", *scenario)
	}

	stop, err := setup(capBytes)
	if err != nil {
		return fmt.Errorf("strategy %s: %w", *strategyName, err)
	}
	defer stop()

	// Outside memory first, so the heap grows on top of it.
	var regions [][]byte
	defer func() {
		for _, r := range regions {
			_ = unix.Munmap(r)
		}
	}()
	if *offheapMiB > 0 {
		r, err := mmapTouched(*offheapMiB * mib)
		if err != nil {
			return err
		}
		regions = append(regions, r)
	}

	live := newLiveSet(*liveMiB * mib)

	done := make(chan struct{})
	var wg sync.WaitGroup
	var readBytes atomic.Uint64
	var bgErr error
	var bgErrOnce sync.Once
	fail := func(err error) { bgErrOnce.Do(func() { bgErr = err }) }

	if *offheapGrowMiB > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			const step = 4 * mib
			steps := (*offheapGrowMiB*mib + step - 1) / step
			tick := time.NewTicker(*duration / time.Duration(steps+1))
			defer tick.Stop()
			for i := 0; i < steps; i++ {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				r, err := mmapTouched(step)
				if err != nil {
					fail(err)
					return
				}
				regions = append(regions, r) // only this goroutine appends until wg.Wait
			}
		}()
	}
	if *spikeMiB > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spikes(done, *spikeMiB*mib)
		}()
	}
	if *file != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := readLoop(done, *file, &readBytes); err != nil {
				fail(err)
			}
		}()
	}

	churned := churn(live, uint64(*churnMiB)*mib, *duration)
	close(done)
	wg.Wait()
	runtime.KeepAlive(live)
	if bgErr != nil {
		return bgErr
	}

	res := result{
		Scenario:    *scenario,
		Strategy:    *strategyName,
		Cap:         capBytes,
		WallSeconds: time.Since(start).Seconds(),
		ChurnedMiB:  churned / mib,
		ReadMiB:     readBytes.Load() / mib,
	}
	res.GCs, res.ForcedGCs, res.GCCPUSeconds, res.GCIdleSeconds, res.GCCPUFraction = gcStats()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// gcStats reads the GC counters from runtime/metrics. The GC CPU fraction
// leaves out the idle mark workers, which only use CPU time nothing else
// wanted (MemStats.GCCPUFraction does the same); counting them would make a
// mostly idle run look GC-bound.
func gcStats() (gcs, forced uint64, gcCPU, gcIdle, gcFrac float64) {
	s := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/cycles/forced:gc-cycles"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/idle:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
	}
	metrics.Read(s)
	gcs = s[0].Value.Uint64()
	forced = s[1].Value.Uint64()
	gcIdle = s[3].Value.Float64()
	gcCPU = s[2].Value.Float64() - gcIdle
	if total := s[4].Value.Float64(); total > 0 {
		gcFrac = gcCPU / total
	}
	return
}

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

// cgroupLimit reads the memory limit of this process's cgroup (v2 or v1).
func cgroupLimit() (uint64, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var p string
		switch {
		case parts[0] == "0" && parts[1] == "":
			p = "/sys/fs/cgroup" + parts[2] + "/memory.max"
		case contains(strings.Split(parts[1], ","), "memory"):
			p = "/sys/fs/cgroup/memory" + parts[2] + "/memory.limit_in_bytes"
		default:
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			continue
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v >= 1<<62 {
			continue
		}
		return v, nil
	}
	return 0, errors.New("no memory limit found in /proc/self/cgroup")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
