package watchdog

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["heap-profile"] = childHeapProfile
}

const (
	heapProfFileEnv = "WATCHDOG_TEST_HEAPPROF_FILE"
	heapProfFunc    = "github.com/raulk/go-watchdog.heapprofAllocateSixtyFourMiB"
	heapProfCaller  = "github.com/raulk/go-watchdog.childHeapProfile"
)

var heapProfSink []byte

// heapprofAllocateSixtyFourMiB allocates 64 MiB under a name no other
// frame has, and returns the line of the allocation.
//
//go:noinline
func heapprofAllocateSixtyFourMiB() int {
	_, _, line, _ := runtime.Caller(0)
	heapProfSink = make([]byte, 64<<20)
	return line + 1
}

type heapProfChildResult struct {
	Line int // of the 64 MiB allocation
}

// childHeapProfile records every allocation, allocates 64 MiB and writes a
// heap profile to the file named by heapProfFileEnv.
func childHeapProfile() (any, error) {
	runtime.MemProfileRate = 1
	line := heapprofAllocateSixtyFourMiB()
	// A record reaches MemProfile once the GC cycles after it complete.
	runtime.GC()
	runtime.GC()
	f, err := os.Create(os.Getenv(heapProfFileEnv))
	if err != nil {
		return nil, err
	}
	err = writeHeapProfile(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	runtime.KeepAlive(heapProfSink)
	return heapProfChildResult{Line: line}, err
}

// goCommand returns the go command of the toolchain that built this test.
func goCommand(t *testing.T) string {
	t.Helper()
	// The root this test was built with: its pprof matches this runtime.
	root := runtime.GOROOT()
	path := filepath.Join(root, "bin", "go")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	t.Skipf("no go command at %s or on PATH: cannot run go tool pprof", path)
	return ""
}

func TestHeapProfileChild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.pb")
	var res heapProfChildResult
	runChildTest(t, "heap-profile", &res, heapProfFileEnv+"="+path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)

	t.Run("go tool pprof reads it", func(t *testing.T) {
		cmd := exec.Command(goCommand(t), "tool", "pprof", "-top", "-sample_index=inuse_space", "-unit=B", path)
		out, err := childOutput(cmd)
		require.NoError(t, err, "%s", out)
		var flat int64 = -1
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 6 && f[5] == heapProfFunc {
				flat, err = strconv.ParseInt(strings.TrimSuffix(f[0], "B"), 10, 64)
				require.NoError(t, err, "line %q", line)
			}
		}
		require.NotEqual(t, int64(-1), flat, "%s not in go tool pprof's output:\n%s", heapProfFunc, out)
		assert.GreaterOrEqual(t, flat, int64(64<<20), "%s", out)
		assert.Less(t, flat, int64(65<<20), "%s", out)
	})

	t.Run("decoded", func(t *testing.T) {
		p := decodeHeapProfile(t, data)
		assert.Equal(t, int64(1), p.period, "the child's MemProfileRate")
		require.Len(t, p.mappings, 1)
		assert.NotEmpty(t, p.mappings[heapProfileMappingID], "the executable")
		var found int
		for _, s := range p.samples {
			if len(s.locs) < 2 {
				continue
			}
			// runtime.Caller allocates too, and so does the runtime (in
			// frames pprof hides) for the make: pick the make by its line
			// and the 64 MiB by its size.
			leaf := p.frame(s.locs[0])
			if leaf.name != heapProfFunc || leaf.line != int64(res.Line) || s.values[1] < 1<<20 {
				continue
			}
			found++
			assert.Equal(t, "heapprof_test.go", filepath.Base(leaf.file))
			assert.Equal(t, heapProfCaller, p.frame(s.locs[1]).name, "the caller is next, leaf first")
			assert.Equal(t, []int64{1, 64 << 20, 1, 64 << 20}, s.values, "rate 1: no scaling")
			assert.Equal(t, map[string]int64{"bytes": 64 << 20}, s.numLabels)
		}
		assert.Equal(t, 1, found, "samples allocated by %s at line %d", heapProfFunc, res.Line)
	})
}

func TestWriteHeapProfileInProcess(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, writeHeapProfile(&buf))
	p := decodeHeapProfile(t, buf.Bytes())
	assert.Equal(t, int64(runtime.MemProfileRate), p.period)
	assert.NotZero(t, p.timeNanos)
}

type failingWriter struct{}

var errWriteFailed = errors.New("write failed")

func (failingWriter) Write([]byte) (int, error) { return 0, errWriteFailed }

func TestWriteHeapProfileWriterError(t *testing.T) {
	assert.ErrorIs(t, writeHeapProfile(failingWriter{}), errWriteFailed)
}

func TestScaleHeapSample(t *testing.T) {
	e1 := 1 / (1 - math.Exp(-1)) // an object of the rate's size: sampled with p = 1-1/e
	tests := []struct {
		count, size, rate   int64
		wantCount, wantSize int64
	}{
		{0, 0, 512 << 10, 0, 0},
		{3, 0, 512 << 10, 0, 0},
		{0, 100, 512 << 10, 0, 0},
		{5, 500, 1, 5, 500},  // every allocation sampled
		{5, 500, 0, 5, 500},  // rate unknown
		{5, 500, -7, 5, 500}, // rate unknown
		{2, 2 << 20, 1 << 20, int64(2 * e1), int64(2 * e1 * (1 << 20))},
		{1, 64 << 20, 512 << 10, 1, 64 << 20}, // p = 1-e^-128: 1
		// 1000 sampled 16-byte objects at rate 512 KiB: 1/p = 1/(1-e^-x)
		// with x = 16/(512 Ki), which is 1/x + 1/2 to 1e-9.
		{1000, 16000, 512 << 10, 1000 * 32768.5, 16000 * 32768.5},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.count, "/", tt.size, "@", tt.rate), func(t *testing.T) {
			c, s := scaleHeapSample(tt.count, tt.size, tt.rate)
			assert.InEpsilon(t, float64(tt.wantCount)+1e-9, float64(c)+1e-9, 1e-4, "count %d", c)
			assert.InEpsilon(t, float64(tt.wantSize)+1e-9, float64(s)+1e-9, 1e-4, "size %d", s)
		})
	}
}

func TestProtoBufEncoding(t *testing.T) {
	var p protoBuf
	p.uint(1, 0) // zero: left out
	p.uint(1, 1)
	p.uint(2, 300)
	p.uint(3, math.MaxUint64)
	minus2 := int64(-2)
	p.uint(4, uint64(minus2)) // an int64 field, as writeHeapProfile writes values
	p.string(6, "")
	p.string(6, "ab")
	p.packed(7, nil) // empty: left out
	p.packed(7, []uint64{1, 128, 0})
	want := []byte{
		0x08, 0x01,
		0x10, 0xac, 0x02,
		0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		0x20, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		0x32, 0x00,
		0x32, 0x02, 'a', 'b',
		0x3a, 0x04, 0x01, 0x80, 0x01, 0x00,
	}
	assert.Equal(t, want, p.b)
}

func BenchmarkWriteHeapProfile(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := writeHeapProfile(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/profile")
}
