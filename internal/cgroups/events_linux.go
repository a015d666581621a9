package cgroups

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// eventState is the notifier half of a Reader. It is guarded by Reader.mu.
type eventState struct {
	info string // EventsInfo

	// cgroup v1: one registered threshold at a time.
	want  uint64     // bytes of the last Arm; 0 none
	armed *threshold // the registration in force, or nil

	// cgroup v2: one watcher goroutine, started by the first Events call.
	started bool // Events was called
	watch   *watcher
}

func initialEventsInfo(version int) string {
	if version == 1 {
		return "cgroup v1: no threshold armed"
	}
	return "cgroup v2: watcher not started (it starts on the first Events call)"
}

// Events returns the channel that receives a value when the kernel reports
// that usage crossed the armed threshold (v1) or that memory.events counted
// a high, max, oom or oom_kill event (v2). It has a buffer of one, sends never block, and it is never closed;
// it stays the same when the Reader moves to another cgroup. On v2 the
// first call starts the watcher goroutine; see EventsInfo.
func (r *Reader) Events() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ev.started && !r.closed {
		r.ev.started = true
		r.startWatcher()
	}
	return r.events
}

// startWatcher starts the v2 watcher on the current directory. r.mu is held.
func (r *Reader) startWatcher() {
	if r.cur.loc.version != 2 {
		return
	}
	dir := r.cur.loc.dir
	var info string
	r.ev.watch, info = startWatcher(filepath.Join(dir, v2Events), r.events)
	r.ev.info = "cgroup v2: " + info
}

// EventsInfo describes the event sources in use and why any could not be set
// up, for logs.
func (r *Reader) EventsInfo() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ev.info
}

// Arm asks for an event when memory.usage_in_bytes crosses bytes (in either
// direction), replacing the previous threshold; 0 removes the threshold. On
// cgroup v1 it registers an eventfd through cgroup.event_control; on a
// directory that is not on a cgroup v1 file system it returns an error. On
// v2 it does nothing and returns nil. When the Reader moves to another
// cgroup, the threshold moves with it.
func (r *Reader) Arm(bytes uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("cgroups: Arm on closed %s: %w", r.cur.name, os.ErrClosed)
	}
	if r.cur.loc.version != 1 {
		r.ev.want = bytes
		return nil
	}
	if bytes == 0 {
		r.disarm()
		r.ev.want = 0
		r.ev.info = "cgroup v1: no threshold armed"
		return nil
	}
	t, err := registerThreshold(r.cur.loc.dir, bytes, r.events)
	if err != nil {
		return err
	}
	r.disarm()
	r.ev.armed, r.ev.want = t, bytes
	r.ev.info = t.info()
	return nil
}

// disarm drops the registered threshold, if any. r.mu is held.
func (r *Reader) disarm() {
	if r.ev.armed != nil {
		r.ev.armed.close()
		r.ev.armed = nil
	}
}

// moveEvents moves the event sources from old to r.cur: the threshold of
// the last Arm is registered again (same bytes) on v1, the watcher restarts
// on v2. A failure leaves the Reader polling only and is told by EventsInfo.
// r.mu is held.
func (r *Reader) moveEvents(old *files) {
	r.disarm()
	if r.ev.watch != nil {
		r.ev.watch.stop()
		r.ev.watch = nil
	}
	r.ev.info = initialEventsInfo(r.cur.loc.version)
	switch {
	case r.cur.loc.version == 2 && r.ev.started:
		r.startWatcher()
	case r.cur.loc.version == 1 && r.ev.want != 0:
		t, err := registerThreshold(r.cur.loc.dir, r.ev.want, r.events)
		if err != nil {
			r.ev.info = fmt.Sprintf("cgroup v1: threshold %d bytes lost moving from %s: %v", r.ev.want, old.loc.dir, err)
			return
		}
		r.ev.armed = t
		r.ev.info = t.info()
	}
}

// closeEvents stops the notifier for Close. r.mu is held.
func (r *Reader) closeEvents() {
	r.disarm()
	if r.ev.watch != nil {
		r.ev.watch.stop()
		r.ev.watch = nil
	}
	r.ev.info = "closed"
}

// onFS reports whether path is on a file system with the given statfs magic.
func onFS(path string, magic int64) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && int64(st.Type) == magic
}
