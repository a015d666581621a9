package cgroups

import (
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// preader reads a small kernel file from offset 0 into a buffer it keeps,
// with one pread(2) and no allocation. The file stays open between reads,
// and going through the *os.File's RawConn makes a concurrent Close safe.
type preader struct {
	f    *os.File
	rc   syscall.RawConn
	buf  []byte
	n    int
	err  error
	read func(fd uintptr) bool // p.pread, bound once so load does not allocate

	closed atomic.Bool
}

func openPreader(path string, size int) (*preader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &preader{f: f, rc: rc, buf: make([]byte, size)}
	p.read = p.pread
	return p, nil
}

func (p *preader) pread(fd uintptr) bool {
	for {
		p.n, p.err = unix.Pread(int(fd), p.buf, 0)
		if p.err != unix.EINTR {
			return true
		}
	}
}

// load reads the file and returns its contents, valid until the next load.
// If grow is set and the content fills the buffer, the buffer is doubled (up
// to 1 MiB) and the file read again; otherwise the content is truncated to
// the buffer size.
func (p *preader) load(grow bool) ([]byte, error) {
	for {
		if err := p.rc.Read(p.read); err != nil {
			if p.closed.Load() {
				err = os.ErrClosed // rather than the internal poll.ErrFileClosing
			}
			return nil, &os.PathError{Op: "read", Path: p.f.Name(), Err: err}
		}
		if p.err != nil {
			return nil, &os.PathError{Op: "pread", Path: p.f.Name(), Err: p.err}
		}
		if !grow || p.n < len(p.buf) || len(p.buf) >= 1<<20 {
			return p.buf[:p.n], nil
		}
		p.buf = make([]byte, 2*len(p.buf))
	}
}

func (p *preader) name() string { return p.f.Name() }

// close closes the file; a nil preader (an optional file that is absent)
// closes as nothing.
func (p *preader) close() error {
	if p == nil {
		return nil
	}
	p.closed.Store(true)
	return p.f.Close()
}
