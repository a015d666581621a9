package watchdog

// v1.3.0's TestSystemDriven, on the machine's real memory. v1.3.0 mocked
// the system memory reader; through the public API the test moves real
// usage instead, with anonymous mappings outside the Go heap (no GC can free
// them and the race detector does not shadow them). Other processes move
// the machine's usage by hundreds of MiB, even a GiB, within seconds, so
// the test reads usage right before each tick and maps memory until it is
// a guard of 128 MiB past the threshold. After the forced GC the adaptive
// threshold lands within noise of the usage, so v1.3.0's third and fourth
// ticks (no GC under the new threshold, a forced GC past it) are left to
// the loop tests, whose usage is scripted (TestEveryWatermarkCrossingForcesAGC).

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["v130-system"] = childV130System
}

const (
	// v130Margin is how far the first threshold is from the usage at start:
	// 512 MiB.
	v130Margin = 512 << 20
	// v130Guard is how far usage, read right before a tick, must be from
	// the threshold: other processes move it by less than that within the
	// milliseconds before the sample.
	v130Guard = 128 << 20
	// v130Chunk is how much the test maps at a time to raise usage.
	v130Chunk = 64 << 20
)

// v130SystemUsage reads the machine's used memory as the Linux system
// driver defines it: MemTotal - MemAvailable.
func v130SystemUsage() (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	var total, avail uint64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			total = v << 10
		case "MemAvailable:":
			avail = v << 10
		}
	}
	if total == 0 || avail > total {
		return 0, fmt.Errorf("/proc/meminfo: MemTotal %d, MemAvailable %d bytes", total, avail)
	}
	return total - avail, nil
}

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
	Mapped              int // bytes mapped to cross the threshold
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
//	tick 1: usage under the threshold by a guard: no GC
//	memory mapped until usage is over it by a guard; tick 2: one GC,
//	forced and notified
func childV130System() (any, error) {
	debug.SetGCPercent(-1) // no runtime GC: every GC below is the watchdog's
	clk := newV130Clock()
	Clock = clk
	rec := &recLogger{}
	SetLogger(rec)
	var res v130SysResult

	// Probe the machine's usage with the watchdog itself.
	err, stop := SystemDriven(0, v130Freq, NewWatermarkPolicy(1))
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	probe := Snapshot()
	stop()
	if probe.Limit-probe.Usage < 8*v130Margin {
		res.Skip = fmt.Sprintf("needs 4 GiB of free memory, the machine has %d bytes", probe.Limit-probe.Usage)
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
	tick := func(name string, forced bool) error {
		n, err := clk.tick(v130Freq)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if forced {
			if err := v130WaitChan(name+": the post-GC notification", posted); err != nil {
				s := Snapshot()
				return fmt.Errorf("%w (forced GCs %d, usage %d, threshold %d bytes)", err, s.ForcedGCs, s.Usage, s.Threshold)
			}
		}
		s := Snapshot()
		mu.Lock()
		defer mu.Unlock()
		res.Ticks = append(res.Ticks, v130SysTick{
			Name: name, Samples: n, ForcedGCs: s.ForcedGCs, Usage: s.Usage, Threshold: s.Threshold,
			NotifyGC: notifyGC, PostGC: postGC,
			RuntimeForcedCycles: readMetric("/gc/cycles/forced:gc-cycles") - forced0,
		})
		return nil
	}
	var maps [][]byte
	defer func() {
		for _, m := range maps {
			syscall.Munmap(m)
		}
	}()
	thr := res.StartThreshold

	// Tick 1: usage, read right before the tick, is a guard under the
	// threshold: no GC.
	u, err := v130SystemUsage()
	if err != nil {
		return nil, err
	}
	if u+v130Guard > thr {
		res.Skip = fmt.Sprintf("other processes raised the machine's usage from %d to %d bytes within the test's first moments, too close to the threshold %d bytes", res.StartUsage, u, thr)
		return res, nil
	}
	if err := tick("tick 1: usage under the threshold", false); err != nil {
		return nil, err
	}

	// Tick 2: map memory until usage, read right before the tick, is a
	// guard over the threshold: one GC, forced and notified.
	for u < thr+v130Guard {
		if len(maps)*v130Chunk >= 3<<30 {
			res.Skip = fmt.Sprintf("3 GiB mapped and the machine's usage, %d bytes, is still under the threshold %d bytes plus %d: other processes free memory as fast", u, thr, v130Guard)
			return res, nil
		}
		m, err := v130Map(v130Chunk)
		if err != nil {
			return nil, err
		}
		maps = append(maps, m)
		if u, err = v130SystemUsage(); err != nil {
			return nil, err
		}
	}
	res.Mapped = len(maps) * v130Chunk
	if err := tick("tick 2: usage over the threshold", true); err != nil {
		return nil, err
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
	t.Logf("limit %d bytes, usage at start %d bytes, %d bytes mapped to cross the threshold, %d clock advances repeated",
		res.Limit, res.StartUsage, res.Mapped, res.LostAdvances)
	assert.False(t, res.RunningAfterStop)
}
