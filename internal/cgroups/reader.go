//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/raulk/go-watchdog/internal/source"
)

var (
	_ source.Source   = (*Reader)(nil)
	_ source.Notifier = (*Reader)(nil)
)

// Reader reads one memory cgroup. It implements source.Source and
// source.Notifier. Usage is what the kernel charges the cgroup, page cache
// included; Reclaimable is the file cache, active_file + inactive_file
// from memory.stat, plus the freed parts of huge pages still charged; the
// difference is what the watchdog calls usage.
//
// A Reader from Open follows the process when it is moved to another cgroup
// or its cgroup is removed: Limit re-runs the discovery, and so does a failed
// read of usage or memory.stat (at most once per 100 ms), and when the
// cgroup directory changed the Reader reopens its files there and moves its
// event registrations, keeping the same Events channel. A Reader from OpenDir
// stays on its directory.
//
// Like any Source it is meant for one goroutine, except Close, which may be
// called from anywhere, at any time, and Version, Path, String and
// EventsInfo, which are safe from any goroutine.
type Reader struct {
	cfg    *Config // nil: opened by OpenDir, never re-discovers
	events chan struct{}

	// cur is replaced only by the goroutine using the Reader, and under mu;
	// that goroutine reads it without the lock, Close and String under it.
	cur *files

	// Re-discovery after failed reads; used by the Reader's goroutine only.
	now         func() time.Time // time.Now; tests fake it
	lastRetry   time.Time        // when a failed read last re-ran discovery
	discoveries int              // discovery runs after Open, for tests

	mu       sync.Mutex
	closed   bool
	ev       eventState
	closeErr error
}

// files are the open files of one cgroup directory.
type files struct {
	loc   location
	name  string   // String()
	usage *preader // memory.usage_in_bytes or memory.current
	stat  *preader // memory.stat
	kmem  *preader // v1 memory.kmem.usage_in_bytes, nil when absent
	limit *preader // the directory's own limit file, nil when absent (v2 root)
}

// retryEvery is how often at most a failed read re-runs discovery: a broken
// cgroup mount must not cost a /proc parse per sample.
const retryEvery = 100 * time.Millisecond

// Open finds the memory cgroup of the process cfg names (see Config) and
// opens its usage and stat files, which stay open until Close or until the
// Reader follows the process to another cgroup. The error wraps
// ErrNoMemoryCgroup when the process has no memory cgroup.
func Open(cfg Config) (*Reader, error) {
	loc, err := discover(cfg)
	if err != nil {
		return nil, err
	}
	f, err := openFiles(loc)
	if err != nil {
		return nil, err
	}
	return newReader(&cfg, f), nil
}

// OpenDir opens the cgroup v1 or v2 (version) directory dir directly,
// without looking at /proc, and never leaves it. Limit walks from dir up to
// its highest ancestor that still is a cgroup directory (has cgroup.procs).
func OpenDir(version int, dir string) (*Reader, error) {
	dir = filepath.Clean(dir)
	top := dir
	for p := filepath.Dir(top); p != top; p = filepath.Dir(top) {
		if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err != nil {
			break
		}
		top = p
	}
	f, err := openFiles(location{version: version, dir: dir, top: top})
	if err != nil {
		return nil, err
	}
	return newReader(nil, f), nil
}

func newReader(cfg *Config, f *files) *Reader {
	r := &Reader{cfg: cfg, cur: f, events: make(chan struct{}, 1), now: time.Now}
	r.ev.info = initialEventsInfo(f.loc.version)
	return r
}

// openFiles opens the usage and stat files of loc.
func openFiles(loc location) (*files, error) {
	var usageFile, limitFile string
	switch loc.version {
	case 1:
		usageFile, limitFile = v1Usage, v1Limit
	case 2:
		usageFile, limitFile = v2Usage, v2Limit
	default:
		return nil, fmt.Errorf("cgroups: version %d is not 1 or 2", loc.version)
	}
	f := &files{loc: loc, name: fmt.Sprintf("cgroup v%d %s", loc.version, loc.dir)}
	var err error
	if f.usage, err = openPreader(filepath.Join(loc.dir, usageFile), 32); err != nil {
		return nil, fmt.Errorf("cgroups: %s usage file: %w", f.name, err)
	}
	if f.stat, err = openPreader(filepath.Join(loc.dir, "memory.stat"), 8<<10); err != nil {
		f.usage.close()
		return nil, fmt.Errorf("cgroups: %s stat file: %w", f.name, err)
	}
	if loc.version == 1 {
		// Optional: without it (cgroup.memory=nokmem, a kernel that
		// dropped it) there is no huge-page estimate on v1.
		f.kmem, _ = openPreader(filepath.Join(loc.dir, v1Kmem), 32)
	}
	f.limit, _ = openPreader(filepath.Join(loc.dir, limitFile), 32) // optional: the v2 root has none
	return f, nil
}

func (f *files) close() error {
	return errors.Join(f.usage.close(), f.stat.close(), f.kmem.close(), f.limit.close())
}

// ProbeLimit returns the limit set on the cgroup directory itself (v1
// memory.limit_in_bytes, v2 memory.max; MaxUint64 for none), with one
// pread(2) and no allocation: no walk up the hierarchy and no discovery, so
// it sees a limit changed on the process's own group, not on its parents,
// nor a move. The watchdog reads it at every sample and calls Limit when it
// changes. A directory without a limit file reports MaxUint64.
func (r *Reader) ProbeLimit() (uint64, error) {
	f := r.cur
	if f.limit == nil {
		return ^uint64(0), nil
	}
	b, err := f.limit.load(false)
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	if f.loc.version == 1 {
		return parseV1Limit(f.limit.name(), b)
	}
	return parseV2Limit(f.limit.name(), b)
}

// Version returns the cgroup version in use: 1 or 2.
func (r *Reader) Version() int { return r.current().loc.version }

// Path returns the cgroup directory in use, including any Config.FSRoot.
func (r *Reader) Path() string { return r.current().loc.dir }

// String returns "cgroup v<version> <dir>" for the directory in use.
func (r *Reader) String() string { return r.current().name }

// current returns r.cur for callers that may not be the Reader's goroutine.
func (r *Reader) current() *files {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// Usage returns the bytes charged to the cgroup: memory.usage_in_bytes on v1,
// memory.current on v2. Both include the page cache. It makes one pread(2)
// on a file kept open and does not allocate. When the read fails, it
// re-discovers the cgroup (see Reader) and, if the process is now elsewhere,
// reads there.
func (r *Reader) Usage() (uint64, error) {
	v, err := r.usage()
	if err != nil && r.retry(err) {
		v, err = r.usage()
	}
	return v, err
}

func (r *Reader) usage() (uint64, error) {
	b, err := r.cur.usage.load(false)
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	v, ok := parseUint(b)
	if !ok {
		return 0, badValue(r.cur.usage.name(), b, "a byte count (unsigned integer)")
	}
	return v, nil
}

// Reclaimable returns the bytes the kernel frees under pressure before it
// OOM-kills anything. First the file cache, active and inactive, dirty and
// under writeback included (the kernel writes those back first): from
// memory.stat, total_active_file + total_inactive_file on v1 (including
// descendants), active_file + inactive_file on v2. Shmem and tmpfs pages sit
// on the anonymous LRU lists, so they are not counted; neither are
// anonymous and kernel memory. A missing or malformed active or inactive
// counter is an error naming the file and key.
//
// It adds the charge that no counter accounts for: on v2 (Linux 5.18 and
// later) memory.current, read first, less anon + file + kernel + sock; on
// v1 memory.usage_in_bytes less total_rss + total_cache +
// memory.kmem.usage_in_bytes; less what the counters may trail usage by,
// and only in a group that has had huge pages. That is the freed parts of
// transparent huge pages, still charged until reclaim splits them (see
// splitPending).
//
// It reads memory.stat into a buffer kept by the Reader and allocates only
// when the file outgrows it. A failed read is retried as for Usage.
func (r *Reader) Reclaimable() (uint64, error) {
	v, err := r.reclaimable()
	if err != nil && r.retry(err) {
		v, err = r.reclaimable()
	}
	return v, err
}

func (r *Reader) reclaimable() (uint64, error) {
	f := r.cur
	// Usage first, then the counters that explain it: memory charged in
	// between lowers the huge-page estimate rather than raising it. The
	// estimate needs usage and, on v1, the kernel memory; a failed read
	// leaves it out (Usage reports its own failures).
	usage, err := r.usage()
	var kmem uint64
	estimate := err == nil && f.loc.version == 2
	if err == nil && f.kmem != nil {
		if b, err := f.kmem.load(false); err == nil {
			kmem, estimate = parseUint(b)
		}
	}
	b, err := f.stat.load(true)
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	keys := &v2ReclaimKeys
	if f.loc.version == 1 {
		keys = &v1ReclaimKeys
	}
	cache, err := fileCache(b, f.stat.name(), keys)
	if err != nil || !estimate {
		return cache, err
	}
	return addSat(cache, splitPending(usage, kmem, statLag, b, f.loc.version == 1)), nil
}

// Limit returns the effective memory limit in bytes: the smallest limit on
// the path from the cgroup directory up to the cgroup mount point (v1
// memory.limit_in_bytes, where values >= 2^62 mean unlimited, and the v1
// hierarchical_memory_limit from memory.stat, which also covers ancestors
// outside the mount; v2 memory.max, where "max" means unlimited). It reads
// the files on every call. A Reader from Open first re-runs the discovery
// and, when the process's cgroup changed, moves there and returns the new
// directory's limit. With no limit anywhere the error wraps ErrNoLimit;
// malformed files give an error naming the file and value.
func (r *Reader) Limit() (uint64, error) {
	_, ferr := r.follow()
	var v uint64
	var err error
	if r.cur.loc.version == 1 {
		v, err = r.limitV1()
	} else {
		v, err = r.limitV2()
	}
	if err != nil && ferr != nil {
		err = fmt.Errorf("%w (and re-discovering the cgroup failed: %w)", err, ferr)
	}
	return v, err
}

// walkLimits reads file in every directory from the cgroup directory up to
// its top and returns the smallest value parse gives (MaxUint64 when all are
// unlimited) and the paths of the files found. Missing files are skipped:
// the v2 root cgroup has no memory.max.
func (r *Reader) walkLimits(file string, parse func(path string, b []byte) (uint64, error)) (uint64, []string, error) {
	best := ^uint64(0)
	var checked []string
	loc := r.cur.loc
	for d := loc.dir; ; d = filepath.Dir(d) {
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
		if d == loc.top || d == filepath.Dir(d) {
			return best, checked, nil
		}
	}
}

// noLimit builds the ErrNoLimit error for Limit.
func (r *Reader) noLimit(file string, checked []string) error {
	f := r.cur
	if len(checked) == 0 {
		return fmt.Errorf("%w: %s: no %s in %s or its parents up to %s", ErrNoLimit, f.name, file, f.loc.dir, f.loc.top)
	}
	return fmt.Errorf("%w: %s: every limit is unlimited (checked %q)", ErrNoLimit, f.name, checked)
}

// Close closes the files and stops the notifier, waiting for its goroutine
// to exit. It is idempotent and safe to call from any goroutine, also while
// the Reader moves to another cgroup; the Events channel is not closed.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.closeEvents()
		r.closeErr = r.cur.close()
	}
	return r.closeErr
}
