// Command shedcache shows a cache that gives memory back when the watchdog
// reports memory pressure: it subscribes to the watchdog's events
// (watchdog.Subscribe) and drops its least recently used half when the
// pressure level rises to moderate, and everything at critical. See Cache.
//
// The program starts the watchdog with watchdog.Start and runs a workload in
// two phases, printing each shedding as it happens:
//
//  1. requests fill the cache until the pressure first turns moderate and
//     the cache sheds;
//  2. a batch job then holds more and more memory outside the cache, with
//     the requests still filling it, until the level turns critical and the
//     cache clears itself. The job then ends and the program waits for the
//     level to fall back to none before it exits.
//
// Run it in a memory-capped container or cgroup, where Start watches the
// cgroup's limit, or give it a heap limit anywhere else:
//
//	go run ./examples/shedcache -heap-limit 256MiB
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "shedcache:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("shedcache", flag.ContinueOnError)
	// The rates matter. The watchdog learns the live heap from GCs, and
	// its level follows the lesser live heap of the last two: a live heap
	// that grows a lot between GCs can reach the limit before the level
	// says critical. Here a request makes 16 times more garbage than it
	// keeps, as most programs do, so GCs come often near the limit.
	heapLimit := fs.String("heap-limit", "", "watch a heap limit such as 256MiB instead of the cgroup's or the system's memory")
	entrySize := fs.String("entry", "64KiB", "size of a cached value")
	garbage := fs.Int("garbage", 16, "short-lived bytes a request allocates, in cached values' sizes")
	batchStep := fs.String("batch-step", "64KiB", "how much the batch job of phase 2 takes per request")
	every := fs.Duration("every", time.Millisecond, "pause between two requests")
	profileDir := fs.String("profile-dir", "", "where the first critical level writes a heap profile and a goroutine dump (watchdog.HeapProfileDir)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var opts watchdog.Options
	var entry, step uint64
	var err error
	if *heapLimit != "" {
		if opts.HeapLimit, err = watchdog.ParseSize(*heapLimit); err != nil {
			return fmt.Errorf("-heap-limit: %w", err)
		}
	}
	if entry, err = watchdog.ParseSize(*entrySize); err != nil {
		return fmt.Errorf("-entry: %w", err)
	}
	if step, err = watchdog.ParseSize(*batchStep); err != nil {
		return fmt.Errorf("-batch-step: %w", err)
	}
	watchdog.HeapProfileDir = *profileDir

	// Subscribe before starting, so that the cache sees every event.
	events, cancel := watchdog.Subscribe(0)
	defer cancel()
	res, stop, err := watchdog.Start(opts)
	if err != nil {
		return err
	}
	defer stop()
	if res.Driver == "" {
		return fmt.Errorf("%v", res)
	}
	fmt.Println(res)

	cache := NewCache()
	var sheds, clears atomic.Int64
	go cache.Watch(events, func(s Shed) {
		if s.Level == watchdog.PressureCritical {
			fmt.Printf("cleared at critical: dropped %d entries (%s)\n", s.Entries, mib(s.Bytes))
			clears.Add(1)
			return
		}
		fmt.Printf("shed at moderate: dropped %d entries (%s), kept %d (%s)\n",
			s.Entries, mib(s.Bytes), s.KeptEntries, mib(s.KeptBytes))
		sheds.Add(1)
	})

	deadline := time.Now().Add(*timeout)
	requests := 0
	// serve is one request: it computes a value, using scratch memory
	// that is garbage when it returns, and caches the value.
	serve := func() error {
		if time.Now().After(deadline) {
			s := watchdog.Snapshot()
			return fmt.Errorf("timed out after %v: pressure %v, usage %s of the limit %s; %d sheds, %d clears",
				*timeout, s.Pressure, mib(int(s.Usage)), mib(int(s.Limit)), sheds.Load(), clears.Load())
		}
		scratch := touched(make([]byte, *garbage*int(entry)))
		value := touched(make([]byte, entry))
		copy(value, scratch)
		cache.Put(strconv.Itoa(requests), value)
		requests++
		time.Sleep(*every)
		return nil
	}

	fmt.Println("phase 1: requests fill the cache")
	for sheds.Load() == 0 {
		if err := serve(); err != nil {
			return err
		}
	}

	fmt.Println("phase 2: a batch job holds more and more memory outside the cache")
	var batch [][]byte
	for clears.Load() == 0 {
		if err := serve(); err != nil {
			return err
		}
		batch = append(batch, touched(make([]byte, step)))
	}
	fmt.Printf("batch job done: it held %s\n", mib(len(batch)*int(step)))
	batch = nil

	for watchdog.Snapshot().Pressure != watchdog.PressureNone {
		if err := serve(); err != nil {
			return err
		}
	}
	fmt.Printf("done: %d requests, %d sheds at moderate, %d clears at critical; pressure none; the cache holds %d entries (%s)\n",
		requests, sheds.Load(), clears.Load(), cache.Len(), mib(cache.Bytes()))
	return nil
}

// touched writes to every page of b, so that it is charged to the process
// at once, as data written there would be.
func touched(b []byte) []byte {
	for i := 0; i < len(b); i += 4096 {
		b[i] = byte(i >> 12)
	}
	return b
}

func mib(n int) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
