package watchdog

import (
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"
)

// profiler writes heap profiles when usage first reaches a share of the
// limit in each episode. The loop goroutine owns it; a nil profiler is off.
type profiler struct {
	r         *run
	dir       string
	threshold float64
	left      uint
	inEpisode bool
	now       func() time.Time // time.Now; names the profiles
}

// newProfiler reads the HeapProfile* settings. It returns nil, logging why
// when the settings are not usable, if capture is off.
func (r *run) newProfiler() *profiler {
	dir, threshold, max := HeapProfileDir, HeapProfileThreshold, HeapProfileMaxCaptures
	switch {
	case threshold == 0:
		return nil // HeapProfileDir alone: only the last words go there
	case dir == "":
		r.log(levelWarn, kindHeapProfile, "HeapProfileThreshold is %v but HeapProfileDir is empty; heap profiles disabled", threshold)
		return nil
	case !(threshold > 0 && threshold < 1):
		r.log(levelWarn, kindHeapProfile, "HeapProfileThreshold %v is outside (0, 1); heap profiles disabled", threshold)
		return nil
	case max == 0:
		r.log(levelWarn, kindHeapProfile, "HeapProfileMaxCaptures is 0; heap profiles disabled")
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.log(levelWarn, kindHeapProfile, "creating HeapProfileDir %q: %v; heap profiles disabled", dir, err)
		return nil
	}
	r.log(levelInfo, kindHeapProfile, "heap profiles: up to %d, in %s, when usage reaches %v of the limit", max, dir, threshold)
	return &profiler{r: r, dir: dir, threshold: threshold, left: max, now: time.Now}
}

// observe captures a profile at the start of an episode, while captures are
// left. A write failure disables capture for the rest of the run.
func (p *profiler) observe(used, limit uint64) {
	if p == nil || p.left == 0 || limit == 0 {
		return
	}
	above := float64(used)/float64(limit) >= p.threshold
	if !above {
		p.inEpisode = false
		return
	}
	if p.inEpisode {
		return
	}
	p.inEpisode = true
	path, err := p.write()
	if err != nil {
		p.r.log(levelWarn, kindHeapProfile, "writing heap profile: %v; heap profiles disabled", err)
		p.left = 0
		return
	}
	p.left--
	p.r.log(levelInfo, kindHeapProfile, "usage %s is at or above %v of the limit %s: heap profile written to %s (%d captures left)",
		fmtSize(used), p.threshold, fmtSize(limit), path, p.left)
}

// write writes runtime/pprof's heap profile to <time>.heap, <time> being
// p.now() in RFC 3339 with nanoseconds, or to <time>-<n>.heap when that name
// is taken (a coarse clock, another process writing to the directory): a
// capture is never lost to a name clash.
func (p *profiler) write() (string, error) {
	base := filepath.Join(p.dir, p.now().Format(time.RFC3339Nano))
	return createFile(base, ".heap", writeHeapProfile)
}

// writeHeapProfile writes runtime/pprof's heap profile to f. Before Go 1.23
// runtime/pprof dropped the errors of its last writes (a full disk, a file
// size limit), so the writer keeps the first one itself.
func writeHeapProfile(f *os.File) error {
	w := &errWriter{w: f}
	if err := pprof.WriteHeapProfile(w); err != nil {
		return err
	}
	return w.err
}

// errWriter remembers the first error of its writer.
type errWriter struct {
	w   *os.File
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
