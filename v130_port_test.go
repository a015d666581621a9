package watchdog

// What v1.3.0's own test suite checked that its verbatim tests
// (v130_published*_test.go, which run unchanged against the public API)
// cannot: v1.3.0's tests that reached into its internals (a mocked system
// memory reader, its polling function) are ported here to the public API,
// with real GCs in child processes and real memory where usage has to move,
// and the inputs v1.3.0 accepted are checked for what they do now. This
// file holds the shared helpers and the policy inputs; the runtime tests
// are in the other v130_port_*_test.go files.

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// v130Limit is the limit v1.3.0's tests used throughout: 64 MiB.
const v130Limit uint64 = 64 << 20

// v130Freq is the polling period of v1.3.0's polled tests.
const v130Freq = 5 * time.Second

// v130Clock is the mock clock of the ported tests: a *clock.Mock, as in
// v1.3.0's tests, that also records each timer created on it, with the mock
// time and the watchdog's sample count at that moment. The watchdog waits on
// a new timer after each sample, so these records tell a test when a sample
// is over and the watchdog waits on the clock again: what v1.3.0's tests
// hoped a 200 ms sleep would give them.
type v130Clock struct {
	*clock.Mock
	mu      sync.Mutex
	armed   int       // timers created
	armedAt time.Time // mock time when the last one was created
	armedS  uint64    // Snapshot().Samples when the last one was created
	lost    int       // advances tick repeated: they fell between two waits
}

func newV130Clock() *v130Clock { return &v130Clock{Mock: clock.NewMock()} }

// record notes a new timer. The watchdog creates its timers holding none of
// its locks, so Snapshot is safe here.
func (c *v130Clock) record() {
	samples := Snapshot().Samples
	now := c.Mock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed++
	c.armedAt, c.armedS = now, samples
}

func (c *v130Clock) last() (armed int, at time.Time, samples uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.armed, c.armedAt, c.armedS
}

func (c *v130Clock) Timer(d time.Duration) *clock.Timer {
	t := c.Mock.Timer(d)
	c.record()
	return t
}

func (c *v130Clock) After(d time.Duration) <-chan time.Time { return c.Timer(d).C }

func (c *v130Clock) Ticker(d time.Duration) *clock.Ticker {
	t := c.Mock.Ticker(d)
	c.record()
	return t
}

func (c *v130Clock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	t := c.Mock.AfterFunc(d, f)
	c.record()
	return t
}

// armedCount returns how many timers were created so far: pass it to
// waitArmed after a start.
func (c *v130Clock) armedCount() int {
	armed, _, _ := c.last()
	return armed
}

// waitArmed waits until more than before timers exist: after a start, the
// watchdog is then waiting on the clock.
func (c *v130Clock) waitArmed(before int) error {
	return v130WaitUntil("the watchdog to wait on the mock clock", func() bool {
		return c.armedCount() > before
	})
}

// tick is v1.3.0's clk.Add(frequency) followed by its 200 ms sleep, made
// exact: it advances the clock by d and waits until the watchdog has taken
// a sample and waits on the clock again. It returns how many samples the
// advance caused.
//
// An advance that lands while the watchdog is not waiting on the clock (it
// is handling a GC) is a jump the watchdog does not catch up on: it re-arms
// from the new time without sampling. tick sees that (a timer created at or
// after the target time, with no new sample) and advances again.
func (c *v130Clock) tick(d time.Duration) (uint64, error) {
	s0 := Snapshot().Samples
	for try := 1; ; try++ {
		target := c.Mock.Now().Add(d)
		c.Add(d)
		var lost bool
		var stopped bool
		err := v130WaitUntil(fmt.Sprintf("a sample after advancing the mock clock by %v", d), func() bool {
			_, at, samples := c.last()
			snap := Snapshot()
			lost = samples == s0 && !at.Before(target) && snap.Samples == s0
			stopped = !snap.Running
			return samples > s0 || lost || stopped
		})
		if err != nil {
			return 0, err
		}
		if stopped {
			return 0, fmt.Errorf("the watchdog stopped running (advancing the mock clock by %v)", d)
		}
		if !lost {
			return Snapshot().Samples - s0, nil
		}
		c.mu.Lock()
		c.lost++
		c.mu.Unlock()
		if try == 10 {
			return 0, fmt.Errorf("10 advances of the mock clock by %v caused no sample", d)
		}
	}
}

// v130WaitUntil polls cond until it holds. testTimeout is a failure bound,
// never waited out on success.
func v130WaitUntil(what string, cond func() bool) error {
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", testTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// v130WaitChan waits for one value on c, up to testTimeout.
func v130WaitChan(what string, c <-chan struct{}) error {
	select {
	case <-c:
		return nil
	case <-time.After(testTimeout):
		return fmt.Errorf("timed out after %v waiting for %s", testTimeout, what)
	}
}

// v130Logger swaps Logger for a recorder until the test ends.
func v130Logger(t *testing.T) *recLogger {
	t.Helper()
	saved := Logger
	rec := &recLogger{}
	SetLogger(rec)
	t.Cleanup(func() { SetLogger(saved) })
	return rec
}

func v130Threshold(w float64) uint64 { return uint64(float64(v130Limit) * w) }

// TestV130WatermarksNormalised: v1.3.0 accepted unsorted and duplicated
// watermarks and meant the set of them. They start a policy that behaves as
// the sorted, de-duplicated list, with a warning naming the change.
func TestV130WatermarksNormalised(t *testing.T) {
	want, err := NewWatermarkPolicy(0.50, 0.75, 0.80)(v130Limit)
	require.NoError(t, err)
	probes := []uint64{0, v130Threshold(0.5) - 1, v130Threshold(0.5), v130Threshold(0.75), v130Threshold(0.8), v130Limit}
	for name, marks := range map[string][]float64{
		"unsorted":                {0.80, 0.50, 0.75},
		"descending":              {0.80, 0.75, 0.50},
		"duplicated":              {0.50, 0.50, 0.75, 0.80, 0.80},
		"unsorted and duplicated": {0.75, 0.50, 0.80, 0.75},
	} {
		t.Run(name, func(t *testing.T) {
			rec := v130Logger(t)
			p, err := NewWatermarkPolicy(marks...)(v130Limit)
			require.NoError(t, err, "v1.3.0 accepted %v", marks)
			for _, used := range probes {
				assert.Equal(t, want.Evaluate(UtilizationSystem, used), p.Evaluate(UtilizationSystem, used), "usage %d bytes", used)
			}
			warns := rec.withLevel("WARN")
			require.NotEmpty(t, warns, "normalising %v is logged at warn level", marks)
			assert.Contains(t, strings.ToLower(strings.Join(warns, "\n")), "watermark")
		})
	}
}

// TestV130PolicyInputsStillRejected: inputs that made v1.3.0 misbehave stay
// errors that name the value.
func TestV130PolicyInputsStillRejected(t *testing.T) {
	for _, c := range []struct {
		name string
		ctor PolicyCtor
		want string
	}{
		{"no watermark", NewWatermarkPolicy(), "watermark"},
		{"zero watermark", NewWatermarkPolicy(0, 0.5), "0"},
		{"negative watermark", NewWatermarkPolicy(-0.5, 0.5), "-0.5"},
		{"watermark above one", NewWatermarkPolicy(0.5, 1.5), "1.5"},
		{"NaN watermark", NewWatermarkPolicy(math.NaN()), "NaN"},
		{"zero factor", NewAdaptivePolicy(0), "0"},
		{"factor above one", NewAdaptivePolicy(1.5), "1.5"},
		{"NaN factor", NewAdaptivePolicy(math.NaN()), "NaN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.ctor(v130Limit)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// TestV130HeapDrivenNegativeMinGOGC: a negative minGOGC would have disabled
// GC under v1.3.0; it stays an error naming the value, and nothing starts.
func TestV130HeapDrivenNegativeMinGOGC(t *testing.T) {
	v130Logger(t)
	err, stop := HeapDriven(v130Limit, -1, NewAdaptivePolicy(0.5))
	if stop != nil {
		defer stop()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "minGOGC")
	assert.Contains(t, err.Error(), "-1")
	assert.False(t, Snapshot().Running, "nothing started")
}
