package watchdog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// Pressure is how close the memory that GC cannot free is to the limit: a
// signal for the program, which alone can free it (drop a cache, refuse
// work).
//
// The watchdog computes it at every measurement from the retained share:
// the memory outside the Go runtime, the runtime's own overhead and the live
// heap (the lesser of the last two GCs' figures; heap mode: that live heap alone),
// over the limit. Garbage and freed heap pages do not count: a GC takes care
// of those.
//
//	PressureModerate  from 80% of the limit, until it falls under 75%
//	PressureCritical  from 90%, until under 85%; also while GC cannot make
//	                  room for the live heap (Stats.BeyondGC)
//
// The gaps keep the level from flapping. Without a limit it is
// PressureNone. The level learns the live heap from GCs: memory the program
// lets go of in answer to pressure (a cache it drops) shows once a GC has
// run, so a program that frees memory should call runtime.GC, as the
// watchdog forces no GC where none is due.
type Pressure int

// The pressure levels, in increasing order.
const (
	PressureNone Pressure = iota
	PressureModerate
	PressureCritical
)

// String returns "none", "moderate" or "critical".
func (p Pressure) String() string {
	switch p {
	case PressureNone:
		return "none"
	case PressureModerate:
		return "moderate"
	case PressureCritical:
		return "critical"
	}
	return fmt.Sprintf("Pressure(%d)", int(p))
}

// nextPressure applies the thresholds and their gaps to a retained share of
// the limit.
func nextPressure(cur Pressure, share float64, beyondGC bool) Pressure {
	switch {
	case beyondGC || share >= 0.90, cur == PressureCritical && share >= 0.85:
		return PressureCritical
	case share >= 0.80, cur >= PressureModerate && share >= 0.75:
		return PressureModerate
	}
	return PressureNone
}

// updatePressure recomputes the level after a measurement, reports a change
// and, at the first critical level of the run, writes the last words.
func (r *run) updatePressure(st runtimeStats) {
	retained := r.live
	if r.src != nil {
		retained = add(sub(r.usage, st.Owned), add(st.NonHeap, r.live))
	}
	level := PressureNone
	if r.limit != 0 {
		level = nextPressure(r.level, float64(retained)/float64(r.limit), r.beyondGC)
	}
	if level == r.level {
		return
	}
	old := r.level
	r.level = level
	r.count(func(s *Stats) { s.Pressure = level })
	lv := levelInfo
	if level == PressureCritical {
		lv = levelWarn
	}
	r.log(lv, kindPressure, "memory pressure %v -> %v: %s retained (live heap %s, %s outside the Go heap) of the limit %s",
		old, level, fmtSize(retained), fmtSize(r.live), fmtSize(sub(retained, r.live)), fmtSize(r.limit))
	r.emit(Event{Kind: EventPressureChanged, OldPressure: old})
	if level == PressureCritical && !r.lastWords {
		r.lastWords = true
		r.writeLastWords()
	}
}

// lastWordsEvery bounds how often a process writes last words, across runs.
const lastWordsEvery = 10 * time.Minute

var lastWords struct {
	mu sync.Mutex
	at time.Time
}

// writeLastWords writes, once per run and at most once per lastWordsEvery
// in the process, a heap profile and a dump of every goroutine's stack to
// HeapProfileDir: what is live, and who holds it, before a kill that would
// leave nothing to look at. It writes on a goroutine of its own, so the loop
// goes on watching, and logs where the files are in one line; stopping the
// run waits for it, at most callbackBudget.
func (r *run) writeLastWords() {
	settingsMu.RLock()
	dir := HeapProfileDir
	settingsMu.RUnlock()
	if dir == "" {
		r.log(levelInfo, kindPressure, "memory pressure is critical; set HeapProfileDir for a heap profile and a goroutine dump at this moment")
		return
	}
	now := time.Now()
	lastWords.mu.Lock()
	if !lastWords.at.IsZero() && now.Sub(lastWords.at) < lastWordsEvery {
		lastWords.mu.Unlock()
		return
	}
	lastWords.at = now
	lastWords.mu.Unlock()
	base := filepath.Join(dir, now.Format(time.RFC3339Nano)+"-critical")
	exec := r.exec
	done := make(chan struct{})
	r.lastWordsDone = done
	go func() {
		defer close(done)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			exec.log(func() {
				emitLog(levelWarn, &logFields{kind: kindPressure}, "memory pressure is critical; creating HeapProfileDir %q: %v", []interface{}{dir, err})
			})
			return
		}
		var errs []error
		heap, err := createFile(base, ".heap", writeHeapProfile)
		errs = append(errs, err)
		stacks, err := createFile(base, ".goroutines", writeStacks)
		errs = append(errs, err)
		exec.log(func() {
			if errs[0] != nil || errs[1] != nil {
				emitLog(levelWarn, &logFields{kind: kindPressure}, "memory pressure is critical; writing the heap profile and goroutine dump: %v; %v", []interface{}{errs[0], errs[1]})
				return
			}
			emitLog(levelWarn, &logFields{kind: kindPressure}, "memory pressure is critical: heap profile in %s, goroutine dump in %s", []interface{}{heap, stacks})
		})
	}()
}

// writeStacks writes the stack of every goroutine, as a panic prints them
// (what runtime/pprof's goroutine profile writes at debug level 2).
func writeStacks(f *os.File) error {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			_, err := f.Write(buf[:n])
			return err
		}
		buf = make([]byte, 2*len(buf))
	}
}

// createFile creates base+ext, or base-<n>+ext when that name is taken (a
// coarse clock, another process writing to the directory), fills it with
// write, and returns its path: a capture is never lost to a name clash. A
// file that write fails is removed.
func createFile(base, ext string, write func(*os.File) error) (string, error) {
	path := base + ext
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	for n := 1; errors.Is(err, fs.ErrExist) && n <= 1000; n++ {
		path = fmt.Sprintf("%s-%d%s", base, n, ext)
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		return path, err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // no half-written file
		return path, fmt.Errorf("%s: %w", path, err)
	}
	return path, nil
}
