package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// threshold is one cgroup v1 memory threshold registration (see "Memory
// thresholds" in the kernel's cgroup-v1/memory.rst): the kernel signals the
// eventfd each time memory.usage_in_bytes crosses bytes, in either
// direction. The registration lives as long as the eventfd is open, or until
// the cgroup is removed, when the kernel signals it one last time.
type threshold struct {
	bytes uint64
	dir   string
	efd   *os.File      // the eventfd, nonblocking so Close unblocks the pump
	usage int           // the memory.usage_in_bytes fd named in the registration (see close)
	done  chan struct{} // closed when the pump has exited
}

// registerThreshold asks the kernel to signal out when the usage of the v1
// memory cgroup dir crosses bytes. It refuses a directory that is not on a
// cgroup v1 file system, so that it never creates cgroup.event_control in a
// plain directory.
func registerThreshold(dir string, bytes uint64, out chan<- struct{}) (*threshold, error) {
	if !onFS(dir, unix.CGROUP_SUPER_MAGIC) {
		return nil, fmt.Errorf("cgroups: %s is not on a cgroup v1 file system, so no threshold events", dir)
	}
	usagePath := filepath.Join(dir, v1Usage)
	fail := func(op, path string, err error) error {
		return fmt.Errorf("cgroups: registering a %d-byte threshold on %s: %w", bytes, usagePath, &os.PathError{Op: op, Path: path, Err: err})
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fail("eventfd2", "", err)
	}
	usage, err := unix.Open(usagePath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(efd)
		return nil, fail("open", usagePath, err)
	}
	if err := writeEventControl(dir, efd, usage, bytes); err != nil {
		unix.Close(efd)
		unix.Close(usage)
		return nil, fail("write", filepath.Join(dir, "cgroup.event_control"), err)
	}
	t := &threshold{
		bytes: bytes,
		dir:   dir,
		efd:   os.NewFile(uintptr(efd), "eventfd:"+usagePath),
		usage: usage,
		done:  make(chan struct{}),
	}
	go pump(t.efd, out, t.done)
	return t, nil
}

// writeEventControl writes "<eventfd> <usage fd> <bytes>" to
// dir/cgroup.event_control.
func writeEventControl(dir string, efd, usage int, bytes uint64) error {
	fd, err := unix.Open(filepath.Join(dir, "cgroup.event_control"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	line := strconv.AppendInt(nil, int64(efd), 10)
	line = append(line, ' ')
	line = strconv.AppendInt(line, int64(usage), 10)
	line = append(line, ' ')
	line = strconv.AppendUint(line, bytes, 10)
	n, err := unix.Write(fd, line)
	if err == nil && n != len(line) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(line))
	}
	return err
}

func (t *threshold) info() string {
	return fmt.Sprintf("cgroup v1: threshold %d bytes on %s (eventfd)", t.bytes, filepath.Join(t.dir, v1Usage))
}

// close unregisters the threshold: closing the eventfd makes the kernel drop
// the registration. It waits for the pump to exit, then closes the usage fd.
// The kernel looks at the usage fd only while it parses the registration
// (containerd closes it right away, and events still arrive); keeping it as
// long as the eventfd costs one fd and ties both to the one registration.
func (t *threshold) close() {
	t.efd.Close()
	<-t.done
	unix.Close(t.usage)
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
