package watchdog

// v1.3.0's TestSystemDriven, on the machine's real memory. v1.3.0 mocked
// the system memory reader; through the public API the test moves real
// usage instead, with anonymous mappings outside the Go heap (no GC can free
// them and the race detector does not shadow them), and picks the limit
// relative to the usage it finds, with margins of at least 32 MiB either side of
// every threshold against the noise of other processes.

import (
	"fmt"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["v130-system"] = childV130System
}

// v130Margin is the system test's margin against other processes: 512 MiB.
const v130Margin = 512 << 20

type v130SysTick struct {
	Name                string
	Samples             uint64 // samples the clock advance caused
	ForcedGCs           uint64 // Snapshot().ForcedGCs after the tick
	Usage, Threshold    uint64
	NotifyGC, PostGC    int
	RuntimeForcedCycles uint64
}

type v130SysResult struct {
	Skip                string
	Limit, StartUsage   uint64
	StartThreshold      uint64
	Ticks               []v130SysTick
	Order               []string // "NotifyGC" and "post" in call order
	ForcedWarns         []string
	ForcedInfos         []string
	RuntimeForcedCycles uint64
	RunningAfterStop    bool
	LostAdvances        int
}

// v130Map maps n bytes of anonymous memory, populated, so the system counts
// them as used at once.
func v130Map(n int) ([]byte, error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mapping %d bytes: %w", n, err)
	}
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1 // in case the kernel ignored MAP_POPULATE
	}
	return b, nil
}

// childV130System: SystemDriven(u0 + 2 margins, 5 s, adaptive 0.5), so the
// threshold is u0 + 1 margin. The clock is advanced by 5 s per tick.
//
//	tick 1: usage u0: no GC
//	2 margins mapped; tick 2: u0 + 2 margins: one GC, forced and notified
func childV130System() (any, error) {
	debug.SetGCPercent(-1) // no runtime GC: every GC below is the watchdog's
	clk := newV130Clock()
	Clock = clk
	rec := &recLogger{}
	Logger = rec
	var res v130SysResult

	// Probe the machine's usage with the watchdog itself.
	err, stop := SystemDriven(0, v130Freq, NewWatermarkPolicy(1))
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	probe := Snapshot()
	stop()
	if probe.Limit-probe.Usage < 4*v130Margin {
		res.Skip = fmt.Sprintf("needs 2 GiB of free memory, the machine has %d bytes", probe.Limit-probe.Usage)
		return res, nil
	}

	var mu sync.Mutex
	notifyGC, postGC := 0, 0
	posted := make(chan struct{}, 16)
	NotifyGC = func() {
		mu.Lock()
		defer mu.Unlock()
		notifyGC++
		res.Order = append(res.Order, "NotifyGC")
	}
	defer RegisterPostGCNotifee(func() {
		mu.Lock()
		postGC++
		res.Order = append(res.Order, "post")
		mu.Unlock()
		posted <- struct{}{}
	})()
	forced0 := readMetric("/gc/cycles/forced:gc-cycles")

	res.Limit = probe.Usage + 2*v130Margin
	armed := clk.armedCount()
	err, stop = SystemDriven(res.Limit, v130Freq, NewAdaptivePolicy(0.5))
	if err != nil {
		return nil, err
	}
	defer stop()
	s := Snapshot()
	res.StartUsage, res.StartThreshold = s.Usage, s.Threshold
	if err := clk.waitArmed(armed); err != nil {
		return nil, err
	}
	var maps [][]byte
	defer func() {
		for _, m := range maps {
			syscall.Munmap(m)
		}
	}()
	for _, step := range []struct {
		name   string
		mapped int // margins mapped before the tick
		forced bool
	}{
		{"tick 1: usage under the threshold", 0, false},
		{"tick 2: 2 margins mapped, over the threshold", 2, true},
	} {
		if step.mapped > 0 {
			m, err := v130Map(step.mapped * v130Margin)
			if err != nil {
				return nil, err
			}
			maps = append(maps, m)
		}
		n, err := clk.tick(v130Freq)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step.name, err)
		}
		if step.forced {
			if err := v130WaitChan(step.name+": the post-GC notification", posted); err != nil {
				s := Snapshot()
				return nil, fmt.Errorf("%w (forced GCs %d, usage %d, threshold %d bytes)", err, s.ForcedGCs, s.Usage, s.Threshold)
			}
		}
		s := Snapshot()
		mu.Lock()
		res.Ticks = append(res.Ticks, v130SysTick{
			Name: step.name, Samples: n, ForcedGCs: s.ForcedGCs, Usage: s.Usage, Threshold: s.Threshold,
			NotifyGC: notifyGC, PostGC: postGC,
			RuntimeForcedCycles: readMetric("/gc/cycles/forced:gc-cycles") - forced0,
		})
		mu.Unlock()
	}
	stop()
	res.RunningAfterStop = Snapshot().Running
	res.LostAdvances = clk.lost
	res.RuntimeForcedCycles = readMetric("/gc/cycles/forced:gc-cycles") - forced0
	res.ForcedWarns = rec.find("WARN", "forcing GC")
	res.ForcedInfos = rec.find("INFO", "forcing GC")
	return res, nil
}

// TestV130SystemDriven is v1.3.0's TestSystemDriven: with NewAdaptivePolicy
// (0.5) and a mock clock advanced by the 5 s frequency, usage under the
// threshold forces nothing; usage over it forces one GC, logged at warn
// level, that NotifyGC and then the post-GC notifees see; and the threshold
// moves half-way from the new usage to the limit. Each advance of the clock
// is one sample.
func TestV130SystemDriven(t *testing.T) {
	var res v130SysResult
	runChildTest(t, "v130-system", &res)
	if res.Skip != "" {
		t.Skip(res.Skip)
	}
	assert.InDelta(t, res.StartUsage+(res.Limit-res.StartUsage)/2, res.StartThreshold, 1,
		"adaptive 0.5: half-way from usage to the limit")
	require.Len(t, res.Ticks, 2)
	for i, tick := range res.Ticks {
		forced := uint64(i) // none at tick 1, one at tick 2
		assert.Equal(t, forced, tick.ForcedGCs, "%s: forced GCs so far (usage %d, threshold %d bytes)", tick.Name, tick.Usage, tick.Threshold)
		assert.Equal(t, forced, tick.RuntimeForcedCycles, "%s: the runtime counted the same forced GCs", tick.Name)
		assert.Equal(t, int(forced), tick.NotifyGC, "%s: NotifyGC calls", tick.Name)
		assert.Equal(t, int(forced), tick.PostGC, "%s: post-GC notifee calls", tick.Name)
		assert.Equal(t, uint64(1), tick.Samples, "%s: advancing the clock by the frequency is one sample, not a burst", tick.Name)
	}
	gc := res.Ticks[1]
	if gc.Usage < res.Limit {
		assert.InDelta(t, gc.Usage+(res.Limit-gc.Usage)/2, gc.Threshold, 1, "after the GC, half-way from usage to the limit")
	} else {
		assert.Equal(t, gc.Usage, gc.Threshold, "after the GC, usage past the limit is the threshold")
	}
	assert.Equal(t, []string{"NotifyGC", "post"}, res.Order, "NotifyGC runs before the post-GC notifees, as in v1.3.0")
	assert.Len(t, res.ForcedWarns, 1, "the forced GC is logged at warn level, as in v1.3.0")
	assert.Empty(t, res.ForcedInfos)
	t.Logf("limit %d bytes, usage at start %d bytes, %d clock advances repeated", res.Limit, res.StartUsage, res.LostAdvances)
	assert.False(t, res.RunningAfterStop)
}
