// Package source is the watchdog's one abstraction over where memory usage
// comes from: a cgroup (v1 or v2) or the whole system. The watchdog loop only
// ever talks to a Source; platform readers live in their own packages.
package source

// Source reads memory usage and the limit it is measured against.
//
// A Source is used by a single goroutine (the watchdog loop); implementations
// need not be safe for concurrent use, except Close, which may be called from
// another goroutine to unblock a pending Notifier.
type Source interface {
	// String names the source for logs and snapshots, for example
	// "cgroup v2 /sys/fs/cgroup/app.slice" or "system /proc/meminfo".
	String() string

	// Limit returns the effective limit in bytes. It reads the system on
	// every call, so a limit that changes at run time (in-place pod resize,
	// systemctl set-property) is seen by the next call.
	Limit() (uint64, error)

	// Usage returns the current usage in bytes. It is called on every tick,
	// so it must be cheap: one read of one small file, no allocation.
	Usage() (uint64, error)

	// Reclaimable returns how many of the bytes counted by Usage the kernel
	// reclaims before it OOM-kills anything: the file cache, active and
	// inactive, dirty and under writeback included (active_file +
	// inactive_file from a cgroup's memory.stat), plus the charge no
	// memory.stat counter accounts for (freed parts of transparent huge
	// pages, which reclaim splits and frees). Shmem and tmpfs pages, mapped
	// anonymous and kernel memory are not reclaimable. Sources
	// whose Usage already excludes such memory return 0. It may cost more
	// than Usage (it parses a stat file), so the loop calls it only when it
	// needs to.
	Reclaimable() (uint64, error)

	// Close releases the open files and stops any notifier goroutine. It is
	// idempotent.
	Close() error
}

// Notifier is implemented by sources that can wake the watchdog when memory
// crosses a threshold or the kernel reports pressure, so that the watchdog
// reacts before its next poll. Polling stays the fallback.
type Notifier interface {
	// Arm asks for an event when usage reaches bytes. A later Arm replaces
	// the earlier threshold. Sources with no threshold mechanism (cgroup v2
	// reports only high/max events and pressure) return nil and ignore it.
	Arm(bytes uint64) error

	// Events returns a channel that receives a value when the kernel reports
	// a threshold crossing or memory pressure. Events are coalesced: the
	// channel has a buffer of one and a send never blocks. The channel is
	// never closed; stop listening when Close has been called.
	Events() <-chan struct{}
}

// LimitProber is implemented by sources that can read their own limit as
// cheaply as usage, without allocating: the watchdog reads it at every
// sample and re-reads the full Limit at once when it changes, so a limit cut
// binds within a sample instead of at the next periodic refresh.
type LimitProber interface {
	// ProbeLimit returns the limit the source itself has in bytes, without
	// the walk and discovery Limit does; a change, not the value, is what
	// counts.
	ProbeLimit() (uint64, error)
}
