package cgroups

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// memoryEventKeys are the memory.events counters whose change is an event.
// "low" is left out: it reports protection, not pressure.
var memoryEventKeys = [...]string{"high", "max", "oom", "oom_kill"}

// watcher is the cgroup v2 event source: one goroutine blocked in poll(2)
// on an inotify watch of memory.events and an eventfd that stop uses to wake
// it. There is no PSI trigger on memory.pressure: measured in the VM harness
// over 141 runs, no trigger (down to "some 10000 500000") ever fired before
// usage reached memory.max, so it could not warn earlier than memory.events.
type watcher struct {
	wake   int      // eventfd
	ino    int      // inotify fd, or -1
	events *preader // memory.events, or nil
	last   [len(memoryEventKeys)]uint64
	out    chan<- struct{}
	done   chan struct{}
}

// startWatcher sets up whichever event sources work and starts the
// goroutine. Failures are not errors: they are described in info, and when
// nothing works no goroutine runs and w is nil.
func startWatcher(eventsPath string, out chan<- struct{}) (w *watcher, info string) {
	w = &watcher{ino: -1, out: out, done: make(chan struct{})}
	var notes []string
	if err := w.watchEvents(eventsPath); err != nil {
		notes = append(notes, fmt.Sprintf("%s inotify: off (%v)", filepath.Base(eventsPath), err))
	} else {
		notes = append(notes, filepath.Base(eventsPath)+" inotify: on")
	}
	info = strings.Join(notes, "; ")
	if w.ino < 0 {
		return nil, info
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		w.closeFDs()
		return nil, info + fmt.Sprintf("; no watcher: eventfd: %v", err)
	}
	w.wake = wake
	go w.run()
	return w, info
}

// watchEvents opens memory.events, records its counters and adds an
// inotify watch: the kernel signals IN_MODIFY when a counter changes.
func (w *watcher) watchEvents(path string) error {
	p, err := openPreader(path, 512)
	if err != nil {
		return err
	}
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		p.close()
		return fmt.Errorf("inotify_init1: %w", err)
	}
	if _, err := unix.InotifyAddWatch(ino, path, unix.IN_MODIFY); err != nil {
		p.close()
		unix.Close(ino)
		return fmt.Errorf("inotify_add_watch %s: %w", path, err)
	}
	w.events, w.ino = p, ino
	w.countersChanged()
	return nil
}

// countersChanged rereads memory.events and reports whether a counter in
// memoryEventKeys differs from the last read. An unreadable or incomplete
// file (a fixture being rewritten) is ignored.
func (w *watcher) countersChanged() bool {
	b, err := w.events.load(false)
	if err != nil {
		return false
	}
	var now [len(memoryEventKeys)]uint64
	for i, k := range memoryEventKeys {
		v, found, ok := statValue(b, k)
		if !found || !ok {
			return false
		}
		now[i] = v
	}
	changed := now != w.last
	w.last = now
	return changed
}

func (w *watcher) run() {
	defer close(w.done)
	fds := []unix.PollFd{
		{Fd: int32(w.wake), Events: unix.POLLIN},
		{Fd: int32(w.ino), Events: unix.POLLIN},
	}
	var buf [4096]byte
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if fds[0].Revents != 0 {
			return
		}
		if fds[1].Revents == 0 {
			continue
		}
		for { // drain the inotify queue
			if n, err := unix.Read(w.ino, buf[:]); n <= 0 || err != nil {
				break
			}
		}
		if w.countersChanged() {
			select {
			case w.out <- struct{}{}:
			default:
			}
		}
	}
}

// stop wakes the goroutine, waits for it to exit and closes the fds.
func (w *watcher) stop() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(w.wake, one[:])
	<-w.done
	w.closeFDs()
	unix.Close(w.wake)
}

func (w *watcher) closeFDs() {
	if w.events != nil {
		w.events.close()
	}
	if w.ino >= 0 {
		unix.Close(w.ino)
	}
}
