package watchdog

import "time"

// Stats is a snapshot of the watchdog, for metrics and debugging. Sizes are
// in bytes.
type Stats struct {
	// Running reports whether a watchdog is running.
	Running bool
	// Driver is "heap", "cgroup" or "system"; empty if none ever ran.
	Driver string
	// Source names where usage is read, e.g. "cgroup v2 /sys/fs/cgroup/x".
	// Empty in heap mode.
	Source string
	// Started is when the watchdog started.
	Started time.Time
	// Limit is the limit in force; 0 while the process's cgroup has no
	// limit (the watchdog then idles until one is set again).
	Limit uint64
	// Usage is the usage at the last measurement: for a cgroup its usage
	// less Reclaimable, for the system its used memory (total less
	// available), in either case at least the memory the Go runtime holds
	// (a process moved into its cgroup after it allocated has pages charged
	// elsewhere); in heap mode the heap the last GC found live.
	Usage uint64
	// Threshold is the usage at which the next GC is forced (heap mode: the
	// heap size the pacer was told to target), or PolicyTempDisabled when
	// there is none (heap mode before its first GC, no limit, or the policy
	// disabled).
	Threshold uint64
	// SoftLimit is the Go soft memory limit the watchdog set last; 0 when
	// it does not manage it (heap mode, HeadroomSoftLimit false) or has not
	// set one yet.
	SoftLimit int64
	// GOGC is the GOGC in force at the last measurement, -1 when off: the
	// value the watchdog set in heap mode, the program's otherwise.
	GOGC int
	// GCs counts the GC cycles completed since the watchdog started. Post-GC
	// notifees that need to know how many cycles ended since their last call
	// (back-to-back cycles may share one call) compare it between calls.
	GCs uint64
	// ForcedGCs counts the GCs the watchdog forced.
	ForcedGCs uint64
	// LastForcedGC is when the last forced GC started; zero if none.
	LastForcedGC time.Time
	// Events counts kernel events (cgroup thresholds, pressure) that woke
	// the watchdog.
	Events uint64
	// Samples counts the polls (timer or event) of usage.
	Samples uint64
	// ReadErrors counts failed usage reads.
	ReadErrors uint64
	// LastSample is when usage was last measured.
	LastSample time.Time
	// Reclaimable is what the kernel frees before any OOM kill, left out of
	// Usage at the last measurement: the file cache (active and inactive,
	// dirty and under writeback included) and charge no memory.stat counter accounts for (freed parts
	// of huge pages awaiting a split; cgroup v2 on Linux 5.18 and later, v1
	// with memory.kmem.usage_in_bytes). Zero for the system (MemAvailable
	// already leaves it out) and in heap mode.
	Reclaimable uint64
	// Reserve is the headroom the soft limit keeps under Limit: a share of
	// the limit, raised while memory outside the Go runtime keeps growing.
	// Zero when the soft limit is not managed.
	Reserve uint64
	// UserSoftLimit is the soft memory limit set by the program itself
	// (GOMEMLIMIT, or debug.SetMemoryLimit before or during the run): the
	// ceiling the watchdog stays under and restores on stop. math.MaxInt64
	// when the program set none; 0 when the soft limit is not managed.
	UserSoftLimit int64
	// ForcedGCsDeferred counts the forced GCs the back-off held back: usage
	// stayed at or above the threshold after a forced GC, so the next one
	// waits for the polling period or for usage to grow by a step.
	ForcedGCsDeferred uint64
	// CallbackPanics counts the panics recovered from the program's
	// callbacks: policies, notifees, ForcedGCFunc and the Logger.
	CallbackPanics uint64
	// LogsDropped counts log lines dropped because the Logger fell behind.
	LogsDropped uint64
	// Pressure is the memory pressure level (see Pressure).
	Pressure Pressure
	// BeyondGC reports that GC cannot make room: the memory outside the Go
	// runtime, the runtime's overhead and the live heap leave the heap too
	// little room under the limit to run (see HeadroomSoftLimit), so the
	// watchdog has left the soft memory limit to the program. Only the
	// program can free memory now.
	BeyondGC bool
	// ThresholdCrossings, GCsIneffective, PressureChanges, LimitChanges and
	// SoftLimitChanges count the events of those kinds (see EventKind);
	// ForcedGCs counts EventGCForced.
	ThresholdCrossings, GCsIneffective, PressureChanges, LimitChanges, SoftLimitChanges uint64
	// EventsDropped counts the events a subscriber missed because its
	// channel was full (see Subscribe).
	EventsDropped uint64
}

// lastStats keeps the final snapshot of a stopped watchdog.
var lastStats Stats

// Snapshot returns the state of the running watchdog, or the last state of
// the most recent one (with Running false). It takes two short locks and
// copies a struct: cheap enough to scrape every second.
func Snapshot() Stats {
	singleton.mu.Lock()
	r := singleton.cur
	if r == nil {
		defer singleton.mu.Unlock()
		return lastStats
	}
	singleton.mu.Unlock()
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}

// publish records a fresh measurement. It does not allocate.
func (r *run) publish(st runtimeStats) {
	now := Clock.Now()
	gogc := st.GOGC
	if r.gogcSet {
		gogc = r.gogc // set after st was read
	}
	r.statsMu.Lock()
	s := &r.stats
	s.Limit = r.limit
	s.Usage = r.usage
	s.Reclaimable = r.reclaimable
	s.Threshold = r.threshold
	s.SoftLimit = r.setLimit
	s.GOGC = gogc
	s.GCs = st.GCCycles - r.gcStart
	s.LastSample = now
	r.statsMu.Unlock()
}

// count applies f to the shared stats under their lock.
func (r *run) count(f func(*Stats)) {
	r.statsMu.Lock()
	f(&r.stats)
	r.statsMu.Unlock()
}
