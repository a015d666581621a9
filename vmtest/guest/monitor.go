//go:build linux

package main

// The benchmark's outside view of a run's cgroup: init, not the workload,
// watches memory.events with inotify and arms the plan's PSI triggers on
// memory.pressure, so the report says whether the kernel event sources the
// watchdog relies on on cgroup v2 fire in a scenario, and when, without
// changing the watchdog.

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/raulk/go-watchdog/vmtest"
	"golang.org/x/sys/unix"
)

// monitor is one cgroup's watcher: a goroutine blocked in poll(2) on an
// eventfd (to stop it), an inotify watch of memory.events and one fd per
// PSI trigger.
type monitor struct {
	dir      string
	wake     int // eventfd
	ino      int // inotify fd, or -1
	triggers []string
	psi      []int // trigger fds; -1 for one that could not be armed
	psiErr   []string
	start    time.Time
	done     chan struct{}

	// Written by the goroutine, read after done is closed.
	firstMax time.Time
	fires    []int
	first    []time.Time
}

// startMonitor arms the watches on dir. The run's start time is set later
// with began, before anything can fire that matters.
func startMonitor(dir string, triggers []string) (*monitor, error) {
	m := &monitor{dir: dir, ino: -1, triggers: triggers, done: make(chan struct{}),
		psi: make([]int, len(triggers)), psiErr: make([]string, len(triggers)),
		fires: make([]int, len(triggers)), first: make([]time.Time, len(triggers)), start: time.Now()}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	m.wake = wake
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	m.ino = ino
	if _, err := unix.InotifyAddWatch(ino, filepath.Join(dir, "memory.events"), unix.IN_MODIFY); err != nil {
		m.close()
		return nil, fmt.Errorf("inotify_add_watch %s/memory.events: %w", dir, err)
	}
	for i, t := range triggers {
		m.psi[i] = -1
		fd, err := unix.Open(filepath.Join(dir, "memory.pressure"), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			m.psiErr[i] = err.Error()
			continue
		}
		if _, err := unix.Write(fd, []byte(t)); err != nil {
			unix.Close(fd)
			m.psiErr[i] = fmt.Sprintf("writing %q: %v", t, err)
			continue
		}
		m.psi[i] = fd
	}
	go m.run()
	return m, nil
}

// began sets the time the run started.
func (m *monitor) began(t time.Time) { m.start = t }

func (m *monitor) run() {
	defer close(m.done)
	fds := []unix.PollFd{{Fd: int32(m.wake), Events: unix.POLLIN}, {Fd: int32(m.ino), Events: unix.POLLIN}}
	for _, fd := range m.psi {
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLPRI}) // poll ignores fd -1
	}
	var buf [4096]byte
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		now := time.Now()
		if fds[0].Revents != 0 {
			return
		}
		if fds[1].Revents != 0 {
			for {
				if n, err := unix.Read(m.ino, buf[:]); n <= 0 || err != nil {
					break
				}
			}
			if m.firstMax.IsZero() {
				if ev, err := keyedFile(filepath.Join(m.dir, "memory.events")); err == nil && ev["max"] > 0 {
					m.firstMax = now
				}
			}
		}
		for i := range m.psi {
			rev := fds[2+i].Revents
			if rev&unix.POLLPRI != 0 {
				m.fires[i]++
				if m.first[i].IsZero() {
					m.first[i] = now
				}
			}
			if rev&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
				fds[2+i].Fd = -1
			}
		}
	}
}

// finish stops the goroutine, closes the fds and returns what it saw.
func (m *monitor) finish() *vmtest.Monitor {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(m.wake, one[:])
	<-m.done
	m.close()
	ms := func(t time.Time) float64 {
		if t.IsZero() {
			return -1
		}
		return float64(t.Sub(m.start).Microseconds()) / 1000
	}
	out := &vmtest.Monitor{FirstMaxMs: ms(m.firstMax)}
	for i, t := range m.triggers {
		out.PSI = append(out.PSI, vmtest.PSIFires{Trigger: t, Fires: m.fires[i], FirstMs: ms(m.first[i]), Error: m.psiErr[i]})
	}
	out.PressureSomeUs, out.PressureFullUs = pressureTotals(filepath.Join(m.dir, "memory.pressure"))
	return out
}

func (m *monitor) close() {
	for _, fd := range append([]int{m.wake, m.ino}, m.psi...) {
		if fd > 0 {
			unix.Close(fd)
		}
	}
}

// pressureTotals returns the total= stall times (µs) of the "some" and
// "full" lines of a memory.pressure file; zeros when it cannot be read.
func pressureTotals(path string) (some, full uint64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		for _, f := range fs[1:] {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				switch fs[0] {
				case "some":
					some = n
				case "full":
					full = n
				}
			}
		}
	}
	return some, full
}
