package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/containerd/cgroups/v3/cgroup1"
	"golang.org/x/sys/unix"
)

// eventState is the notifier half of a Reader.
type eventState struct {
	mu     sync.Mutex
	closed bool
	info   string // EventsInfo

	// cgroup v1: one eventfd per armed threshold, read by a pump goroutine.
	cg       cgroup1.Cgroup // loaded on the first Arm
	armed    *os.File       // eventfd of the current threshold, or nil
	pumpDone chan struct{}  // closed when armed's pump has exited

	// cgroup v2: one watcher goroutine, started by the first Events call.
	started bool
	watch   *watcher
}

func (r *Reader) initialEventsInfo() string {
	if r.version == 1 {
		return "cgroup v1: no threshold armed"
	}
	return "cgroup v2: watcher not started (it starts on the first Events call)"
}

// Events returns the channel that receives a value when the kernel reports
// that usage crossed the armed threshold (v1) or that memory.events counted
// a high, max, oom or oom_kill event or the memory.pressure trigger fired
// (v2). It has a buffer of one, sends never block, and it is never closed.
// On v2 the first call starts the watcher goroutine; see EventsInfo.
func (r *Reader) Events() <-chan struct{} {
	e := &r.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.version == 2 && !e.started && !e.closed {
		e.started = true
		var info string
		e.watch, info = startWatcher(filepath.Join(r.dir, v2Events), filepath.Join(r.dir, v2Pressure), r.events)
		e.info = "cgroup v2: " + info
	}
	return r.events
}

// EventsInfo describes the event sources in use and why any could not be set
// up, for logs.
func (r *Reader) EventsInfo() string {
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return r.ev.info
}

// Arm asks for an event when memory.usage_in_bytes crosses bytes (in either
// direction), replacing the previous threshold; 0 removes the threshold. On
// cgroup v1 it registers an eventfd through cgroup.event_control using
// containerd/cgroups/v3 cgroup1; on a directory that is not on a cgroup v1
// file system it returns an error. On v2 it does nothing and returns nil.
func (r *Reader) Arm(bytes uint64) error {
	if r.version != 1 {
		return nil
	}
	e := &r.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("cgroups: Arm on closed %s: %w", r.name, os.ErrClosed)
	}
	if bytes == 0 {
		e.disarm()
		e.info = "cgroup v1: no threshold armed"
		return nil
	}
	if e.cg == nil {
		if !onFS(r.dir, unix.CGROUP_SUPER_MAGIC) {
			return fmt.Errorf("cgroups: %s is not on a cgroup v1 file system, so no threshold events", r.dir)
		}
		cg, err := loadV1(r.dir)
		if err != nil {
			return fmt.Errorf("cgroups: loading %s with containerd cgroup1: %w", r.dir, err)
		}
		e.cg = cg
	}
	efd, err := e.cg.RegisterMemoryEvent(cgroup1.MemoryThresholdEvent(bytes, false))
	if err != nil {
		return fmt.Errorf("cgroups: registering a %d-byte threshold on %s via cgroup.event_control: %w",
			bytes, filepath.Join(r.dir, v1Usage), err)
	}
	// A nonblocking fd goes to the runtime poller, so closing the file
	// unblocks the pump's Read.
	if err := unix.SetNonblock(int(efd), true); err != nil {
		unix.Close(int(efd))
		return fmt.Errorf("cgroups: threshold eventfd: %w", err)
	}
	f := os.NewFile(efd, "eventfd:"+filepath.Join(r.dir, v1Usage))
	e.disarm()
	e.armed, e.pumpDone = f, make(chan struct{})
	go pump(f, r.events, e.pumpDone)
	e.info = fmt.Sprintf("cgroup v1: threshold %d bytes on %s (eventfd via containerd cgroup1)", bytes, v1Usage)
	return nil
}

// loadV1 wraps the v1 memory cgroup directory dir in a containerd cgroup1
// handle. containerd joins the memory controller root as <root>/memory/<path>,
// so root is dir and path ".." cancels the "memory" element: dir may be a
// mount point with any name, or a fixture.
func loadV1(dir string) (cgroup1.Cgroup, error) {
	return cgroup1.Load(cgroup1.StaticPath(".."), cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) {
		return []cgroup1.Subsystem{cgroup1.NewMemory(dir)}, nil
	}))
}

// pump forwards each eventfd wake-up to out until f is closed.
func pump(f *os.File, out chan<- struct{}, done chan<- struct{}) {
	defer close(done)
	var b [8]byte
	for {
		if _, err := f.Read(b[:]); err != nil {
			return
		}
		select {
		case out <- struct{}{}:
		default:
		}
	}
}

// disarm closes the current threshold eventfd (the kernel then drops the
// registration) and waits for its pump to exit. e.mu is held.
func (e *eventState) disarm() {
	if e.armed == nil {
		return
	}
	e.armed.Close()
	<-e.pumpDone
	e.armed, e.pumpDone = nil, nil
}

// closeEvents stops the notifier for Close.
func (r *Reader) closeEvents() {
	e := &r.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	e.disarm()
	if e.watch != nil {
		e.watch.stop()
		e.watch = nil
	}
	e.info = "closed"
}

// onFS reports whether path is on a file system with the given statfs magic.
func onFS(path string, magic int64) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && int64(st.Type) == magic
}

func closeFD(fd int) error { return unix.Close(fd) }
