package source

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

const meminfoPath = "/proc/meminfo"

// meminfoSystem is the system Source on Linux. It keeps /proc/meminfo open
// and reads it with one pread(2) into a fixed buffer.
type meminfoSystem struct {
	f    *os.File
	rc   syscall.RawConn
	read func(fd uintptr) bool // m.pread, bound once so reads do not allocate

	// The fields this source needs are the first lines of the file; a
	// longer file is read only up to the buffer size.
	buf [1024]byte
	n   int
	err error

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

func newSystem() (Source, error) { return openMeminfo(meminfoPath) }

// openMeminfo opens a meminfo file (a fixture in tests) and checks that it
// parses.
func openMeminfo(path string) (*meminfoSystem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("source: %s: %w", path, err)
	}
	m := &meminfoSystem{f: f, rc: rc}
	m.read = m.pread
	if _, _, err := m.load(); err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

func (m *meminfoSystem) pread(fd uintptr) bool {
	for {
		m.n, m.err = unix.Pread(int(fd), m.buf[:], 0)
		if m.err != unix.EINTR {
			return true
		}
	}
}

// load reads the file and returns MemTotal and MemAvailable in bytes.
func (m *meminfoSystem) load() (total, available uint64, err error) {
	if err := m.rc.Read(m.read); err != nil {
		if m.closed.Load() {
			err = os.ErrClosed
		}
		return 0, 0, &os.PathError{Op: "read", Path: m.f.Name(), Err: err}
	}
	if m.err != nil {
		return 0, 0, &os.PathError{Op: "pread", Path: m.f.Name(), Err: m.err}
	}
	b := m.buf[:m.n]
	if m.n == len(m.buf) { // drop a line the buffer may have cut
		b = b[:bytes.LastIndexByte(b, '\n')+1]
	}
	return parseMeminfo(m.f.Name(), b)
}

func (m *meminfoSystem) String() string { return "system" }

// Limit returns MemTotal in bytes.
func (m *meminfoSystem) Limit() (uint64, error) {
	total, _, err := m.load()
	return total, err
}

// Usage returns MemTotal - MemAvailable in bytes, 0 if MemAvailable is
// larger. It does not allocate.
func (m *meminfoSystem) Usage() (uint64, error) {
	total, available, err := m.load()
	if err != nil || available >= total {
		return 0, err
	}
	return total - available, nil
}

func (m *meminfoSystem) Reclaimable() (uint64, error) { return 0, nil }

func (m *meminfoSystem) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		m.closeErr = m.f.Close()
	})
	return m.closeErr
}

// meminfo keys parseMeminfo looks at, as bits of a found mask.
const (
	memTotal = 1 << iota
	memAvailable
	memFree
	memBuffers
	memCached
)

// parseMeminfo returns MemTotal and MemAvailable, in bytes, from the
// contents b of the meminfo file path. Kernels before 3.14 have no
// MemAvailable; then it is estimated as MemFree + Buffers + Cached. It does
// not allocate unless it fails.
func parseMeminfo(path string, b []byte) (total, available uint64, err error) {
	var free, buffers, cached uint64
	found := 0
	for len(b) > 0 && found&(memTotal|memAvailable) != memTotal|memAvailable {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		var dst *uint64
		var bit int
		switch string(line[:colon]) {
		case "MemTotal":
			dst, bit = &total, memTotal
		case "MemAvailable":
			dst, bit = &available, memAvailable
		case "MemFree":
			dst, bit = &free, memFree
		case "Buffers":
			dst, bit = &buffers, memBuffers
		case "Cached":
			dst, bit = &cached, memCached
		default:
			continue
		}
		v, ok := parseKB(line[colon+1:])
		if !ok {
			return 0, 0, fmt.Errorf("source: %s: %s value %q is not a size in kB (\"<digits> kB\")",
				path, line[:colon], bytes.TrimSpace(line[colon+1:]))
		}
		*dst, found = v, found|bit
	}
	if found&memTotal == 0 {
		return 0, 0, fmt.Errorf("source: %s has no MemTotal line", path)
	}
	if found&memAvailable == 0 {
		const legacy = memFree | memBuffers | memCached
		if found&legacy != legacy {
			return 0, 0, fmt.Errorf("source: %s has no MemAvailable line, nor MemFree, Buffers and Cached to estimate it", path)
		}
		available = free + buffers + cached
		if available < free || available > total { // wrapped, or more than there is
			available = total
		}
	}
	return total, available, nil
}

// parseKB parses "   <digits> kB" into bytes.
func parseKB(b []byte) (uint64, bool) {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	var v uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + uint64(b[i]-'0')
		if v > (1<<64-1)/1024 { // checked after each digit: bytes must fit too
			return 0, false
		}
	}
	if i == 0 || string(bytes.TrimRight(b[i:], " \r")) != " kB" {
		return 0, false
	}
	return v * 1024, true
}
