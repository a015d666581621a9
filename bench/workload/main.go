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
// It runs a fixed amount of work, shaped by -scenario: garbage churn at a
// paced rate for -duration, (activecache, activecache-small) a fixed amount
// of garbage allocated as fast as it can, or (idle) nothing for -duration. It prints one JSON line on stdout at exit with
// the GC statistics, of the whole process and of the measured phase (the
// churn). If the kernel OOM-kills it, it prints nothing; the runner notices
// the SIGKILL.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
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
	scenario       = flag.String("scenario", "heaponly", "offheap|offheap-growing|spike|heaponly|pagecache|activecache|activecache-small|filewriter|limitcut|limitcut-start48|idle|latency")
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
	cacheFile      = flag.String("cache-file", "", "file to create on a disk-backed file system, sync, read -cache-reads times and remove at exit (activecache)")
	cacheMiB       = flag.Int("cache-mib", 190, "size of -cache-file in MiB")
	cacheReads     = flag.Int("cache-reads", 2, "times -cache-file is read after it is written (two put its pages on the active file list)")
	unpacedMiB     = flag.Int("unpaced-mib", 0, "instead of the paced churn, allocate this many MiB of garbage as fast as possible (activecache)")
	pieceKiB       = flag.Int("piece-kib", 64, "size of each -unpaced-mib allocation in KiB")
	small          = flag.Bool("small", false, "make the -unpaced-mib allocations slices of 2 to 40 pointers (16 to 320 bytes) instead of -piece-kib buffers (activecache-small)")
	writeFile      = flag.String("write-file", "", "file to create on a disk-backed file system and append to at -write-mib MiB/s during the churn, never synced; removed at exit (filewriter)")
	writeMiB       = flag.Int("write-mib", 32, "rate of the -write-file writer in MiB per second")
	wait           = flag.Duration("wait", 0, "time from the start of the process to the start of the measured phase, spent with the live heap built and nothing allocated (limitcut: the runner lowers the limit meanwhile)")
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
	WrittenMiB    uint64  `json:"written_mib,omitempty"` // -write-file
	// Phase is the measured phase alone: the churn, paced or not. The
	// fields above cover the whole process.
	Phase phaseStats `json:"phase"`
	// The cgroup's active and inactive file pages in MiB at the start of the
	// phase, with -cache-file when $WDBENCH_CGROUP is set (activecache).
	CacheActiveMiB   *float64 `json:"cache_active_mib,omitempty"`
	CacheInactiveMiB *float64 `json:"cache_inactive_mib,omitempty"`
	// The watchdog's Snapshot counters (this build's watchdog strategies).
	Watchdog map[string]uint64 `json:"watchdog,omitempty"`
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
	case "offheap", "offheap-growing", "spike", "heaponly", "limitcut", "limitcut-start48", "idle":
	case "filewriter":
		if *writeFile == "" || *writeMiB < 1 {
			return errors.New("-scenario filewriter needs -write-file and a -write-mib of at least 1")
		}
	case "pagecache":
		if *file == "" {
			return errors.New("-scenario pagecache needs -file")
		}
	case "activecache", "activecache-small":
		if *cacheFile == "" || *unpacedMiB <= 0 {
			return errors.New("-scenario activecache needs -cache-file and -unpaced-mib")
		}
	case "latency":
		return runLatency(setup, capBytes)
	default:
		return fmt.Errorf("unknown -scenario %q", *scenario)
	}
	if *cacheMiB < 1 || *cacheReads < 0 || *unpacedMiB < 0 || *pieceKiB < 1 {
		return fmt.Errorf("-cache-mib %d, -cache-reads %d, -unpaced-mib %d, -piece-kib %d: sizes must be at least 1 and counts at least 0", *cacheMiB, *cacheReads, *unpacedMiB, *pieceKiB)
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

	if *cacheFile != "" {
		defer os.Remove(*cacheFile)
		if err := buildCache(*cacheFile, *cacheMiB*mib, *cacheReads); err != nil {
			return err
		}
	}

	live := newLiveSet(*liveMiB * mib)
	var cacheActive, cacheInactive *float64
	if *cacheFile != "" {
		if a, i, ok, err := fileCache(); err != nil {
			return err
		} else if ok {
			af, inf := float64(a)/mib, float64(i)/mib
			cacheActive, cacheInactive = &af, &inf
		}
	}

	// The background loads below start with the measured phase.
	waitUntil(start.Add(*wait))
	done := make(chan struct{})
	var wg sync.WaitGroup
	var readBytes, writtenBytes atomic.Uint64
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

	if *writeFile != "" {
		defer os.Remove(*writeFile)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := writeLoop(done, *writeFile, uint64(*writeMiB)*mib, &writtenBytes); err != nil {
				fail(err)
			}
		}()
	}

	phase := startPhase()
	var churned uint64
	switch {
	case *scenario == "idle":
		time.Sleep(*duration)
	case *unpacedMiB > 0 && *small:
		churned = allocSmall(live, uint64(*unpacedMiB)*mib)
	case *unpacedMiB > 0:
		churned = allocUnpaced(uint64(*unpacedMiB)*mib, *pieceKiB<<10)
	default:
		churned = churn(live, uint64(*churnMiB)*mib, *duration)
	}
	phaseStats := phase.end(churned)
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
		WrittenMiB:  writtenBytes.Load() / mib,
		Phase:       phaseStats,

		CacheActiveMiB:   cacheActive,
		CacheInactiveMiB: cacheInactive,
	}
	res.GCs, res.ForcedGCs, res.GCCPUSeconds, res.GCIdleSeconds, res.GCCPUFraction = gcStats()
	if watchdogCounters != nil && strings.HasPrefix(*strategyName, "watchdog") {
		res.Watchdog = watchdogCounters()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
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
