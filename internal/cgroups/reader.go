//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/raulk/go-watchdog/internal/source"
)

var (
	_ source.Source   = (*Reader)(nil)
	_ source.Notifier = (*Reader)(nil)
)

// Reader reads one memory cgroup. It implements source.Source and
// source.Notifier. Like any Source it is meant for one goroutine, except
// Close, which may be called from anywhere.
type Reader struct {
	version int
	dir     string // the cgroup directory in use
	top     string // Limit walks from dir up to and including top
	name    string // String()
	usage   *preader
	stat    *preader // memory.stat

	events    chan struct{}
	ev        eventState
	closeOnce sync.Once
	closeErr  error
}

// Open finds the memory cgroup of the process cfg names (see Config) and
// opens its usage and stat files, which stay open until Close. The error
// wraps ErrNoMemoryCgroup when the process has no memory cgroup.
func Open(cfg Config) (*Reader, error) {
	loc, err := discover(cfg)
	if err != nil {
		return nil, err
	}
	return open(loc)
}

// OpenDir opens the cgroup v1 or v2 (version) directory dir directly,
// without looking at /proc. Limit walks from dir up to its highest ancestor
// that still is a cgroup directory (has cgroup.procs).
func OpenDir(version int, dir string) (*Reader, error) {
	dir = filepath.Clean(dir)
	top := dir
	for p := filepath.Dir(top); p != top; p = filepath.Dir(top) {
		if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err != nil {
			break
		}
		top = p
	}
	return open(location{version: version, dir: dir, top: top})
}

func open(loc location) (*Reader, error) {
	var usageFile string
	switch loc.version {
	case 1:
		usageFile = v1Usage
	case 2:
		usageFile = v2Usage
	default:
		return nil, fmt.Errorf("cgroups: version %d is not 1 or 2", loc.version)
	}
	r := &Reader{
		version: loc.version,
		dir:     loc.dir,
		top:     loc.top,
		name:    fmt.Sprintf("cgroup v%d %s", loc.version, loc.dir),
		events:  make(chan struct{}, 1),
	}
	var err error
	if r.usage, err = openPreader(filepath.Join(loc.dir, usageFile), 32); err != nil {
		return nil, fmt.Errorf("cgroups: %s usage file: %w", r.name, err)
	}
	if r.stat, err = openPreader(filepath.Join(loc.dir, "memory.stat"), 8<<10); err != nil {
		r.usage.close()
		return nil, fmt.Errorf("cgroups: %s stat file: %w", r.name, err)
	}
	r.ev.info = r.initialEventsInfo()
	return r, nil
}

// Version returns the cgroup version in use: 1 or 2.
func (r *Reader) Version() int { return r.version }

// Path returns the cgroup directory in use, including any Config.FSRoot.
func (r *Reader) Path() string { return r.dir }

// String returns "cgroup v<version> <dir>".
func (r *Reader) String() string { return r.name }

// Usage returns the bytes charged to the cgroup: memory.usage_in_bytes on v1,
// memory.current on v2. Both include the page cache. It makes one pread(2)
// on a file kept open and does not allocate.
func (r *Reader) Usage() (uint64, error) {
	b, err := r.usage.load(false)
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	v, ok := parseUint(b)
	if !ok {
		return 0, badValue(r.usage.name(), b, "a byte count (unsigned integer)")
	}
	return v, nil
}

// Reclaimable returns the inactive file cache in bytes, which the kernel
// drops under pressure without swapping: total_inactive_file (v1, including
// descendants) or inactive_file (v2) from memory.stat. It reads memory.stat
// into a buffer kept by the Reader and allocates only when the file
// outgrows it.
func (r *Reader) Reclaimable() (uint64, error) {
	key := v2Reclaim
	if r.version == 1 {
		key = v1Reclaim
	}
	b, err := r.stat.load(true)
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	v, found, ok := statValue(b, key)
	if !found {
		return 0, fmt.Errorf("cgroups: %s has no %q line", r.stat.name(), key)
	}
	if !ok {
		return 0, badValue(r.stat.name(), []byte(statLine(b, key)), "a byte count (unsigned integer) for "+key)
	}
	return v, nil
}

// Limit returns the effective memory limit in bytes: the smallest limit on
// the path from the cgroup directory up to the cgroup mount point (v1
// memory.limit_in_bytes, where values >= 2^62 mean unlimited, and the v1
// hierarchical_memory_limit from memory.stat, which also covers ancestors
// outside the mount; v2 memory.max, where "max" means unlimited). It reads
// the files on every call. With no limit anywhere the error wraps
// ErrNoLimit; malformed files give an error naming the file and value.
func (r *Reader) Limit() (uint64, error) {
	if r.version == 1 {
		return r.limitV1()
	}
	return r.limitV2()
}

// walkLimits reads file in every directory from r.dir up to r.top and
// returns the smallest value parse gives (MaxUint64 when all are unlimited)
// and the paths of the files found. Missing files are skipped: the v2 root
// cgroup has no memory.max.
func (r *Reader) walkLimits(file string, parse func(path string, b []byte) (uint64, error)) (uint64, []string, error) {
	best := ^uint64(0)
	var checked []string
	for d := r.dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, file)
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return 0, nil, fmt.Errorf("cgroups: %w", err)
		default:
			v, err := parse(p, b)
			if err != nil {
				return 0, nil, err
			}
			checked = append(checked, p)
			best = min(best, v)
		}
		if d == r.top || d == filepath.Dir(d) {
			return best, checked, nil
		}
	}
}

// noLimit builds the ErrNoLimit error for Limit.
func (r *Reader) noLimit(file string, checked []string) error {
	if len(checked) == 0 {
		return fmt.Errorf("%w: %s: no %s in %s or its parents up to %s", ErrNoLimit, r.name, file, r.dir, r.top)
	}
	return fmt.Errorf("%w: %s: every limit is unlimited (checked %q)", ErrNoLimit, r.name, checked)
}

// Close closes the files and stops the notifier, waiting for its goroutine
// to exit. It is idempotent and safe to call from any goroutine; the Events
// channel is not closed.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() {
		r.closeEvents()
		r.closeErr = errors.Join(r.usage.close(), r.stat.close())
	})
	return r.closeErr
}
