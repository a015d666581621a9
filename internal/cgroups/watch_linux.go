package cgroups

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// psiTrigger asks for a POLLPRI wake-up when some task stalled on memory for
// 150 ms within a 2 s window. Unprivileged users may only use windows that
// are multiples of 2 s.
const psiTrigger = "some 150000 2000000"

// memoryEventKeys are the memory.events counters whose change is an event.
// "low" is left out: it reports protection, not pressure.
var memoryEventKeys = [...]string{"high", "max", "oom", "oom_kill"}

// watcher is the cgroup v2 event source: one goroutine blocked in poll(2)
// on an inotify watch of memory.events, a PSI trigger on memory.pressure and
// an eventfd that stop uses to wake it.
type watcher struct {
	wake   int      // eventfd
	ino    int      // inotify fd, or -1
	psi    int      // PSI trigger fd, or -1
	events *preader // memory.events, or nil
	last   [len(memoryEventKeys)]uint64
	out    chan<- struct{}
	done   chan struct{}
}

// startWatcher sets up whichever event sources work and starts the
// goroutine. Failures are not errors: they are described in info, and when
// nothing works no goroutine runs and w is nil.
func startWatcher(eventsPath, pressurePath string, out chan<- struct{}) (w *watcher, info string) {
	w = &watcher{ino: -1, psi: -1, out: out, done: make(chan struct{})}
	var notes []string
	if err := w.watchEvents(eventsPath); err != nil {
		notes = append(notes, fmt.Sprintf("%s inotify: off (%v)", filepath.Base(eventsPath), err))
	} else {
		notes = append(notes, filepath.Base(eventsPath)+" inotify: on")
	}
	if fd, err := openPSITrigger(pressurePath); err != nil {
		notes = append(notes, fmt.Sprintf("%s PSI trigger: off (%v)", filepath.Base(pressurePath), err))
	} else {
		w.psi = fd
		notes = append(notes, fmt.Sprintf("%s PSI trigger %q: on", filepath.Base(pressurePath), psiTrigger))
	}
	info = strings.Join(notes, "; ")
	if w.ino < 0 && w.psi < 0 {
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

// openPSITrigger registers psiTrigger on a cgroup2 memory.pressure file and
// returns the fd to poll for POLLPRI.
func openPSITrigger(path string) (int, error) {
	if !onFS(filepath.Dir(path), unix.CGROUP2_SUPER_MAGIC) {
		return -1, fmt.Errorf("%s is not on a cgroup2 file system", filepath.Dir(path))
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if _, err := unix.Write(fd, []byte(psiTrigger)); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "write trigger", Path: path, Err: err}
	}
	return fd, nil
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
		{Fd: int32(w.ino), Events: unix.POLLIN}, // poll ignores fd -1
		{Fd: int32(w.psi), Events: unix.POLLPRI},
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
		fire := false
		if fds[1].Revents != 0 {
			for { // drain the inotify queue
				if n, err := unix.Read(w.ino, buf[:]); n <= 0 || err != nil {
					break
				}
			}
			fire = w.countersChanged()
		}
		if rev := fds[2].Revents; rev != 0 {
			fire = fire || rev&unix.POLLPRI != 0
			if rev&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
				fds[2].Fd = -1 // trigger gone (cgroup removed): stop polling it
			}
		}
		if fire {
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
	if w.psi >= 0 {
		unix.Close(w.psi)
	}
}
