package watchdog

// v1.3.0's TestCgroupsDriven_Create: CgroupDriven inside a 32 MiB cgroup v1
// memory group. v1.3.0 moved the test process itself into the group; here a
// re-executed child runs in a group the test creates (the go test process
// never moves), and the group is removed, with anything left in it, when
// the test ends.

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["v130-cgroup"] = childV130Cgroup
}

// v130CgroupLimit is the limit of v1.3.0's cgroup test: 32 MiB.
const v130CgroupLimit = 32 << 20

type v130CgroupTick struct {
	Samples, ForcedGCs uint64
	Usage, Threshold   uint64
	Notified           int
}

type v130CgroupResult struct {
	Limit       uint64
	Ticks       []v130CgroupTick // after each tick, and its GC's notification
	NumForcedGC uint32           // the runtime's count, the test's own runtime.GC included
	Order       []string         // the first NotifyGC and post-GC notifee calls, in order
	ForcedWarns []string
	ForcedInfos []string
}

// childV130Cgroup is v1.3.0's testCgroupsWatchdog: one GC to start clean,
// GC otherwise off, a mock clock, CgroupDriven(5 s, adaptive 0.5); a tick
// with nothing allocated, then half the limit retained in 1 MiB slabs and a
// second tick. With WATCHDOG_V130_DEFAULTS=1 it keeps this library's soft
// limit and kernel events on; otherwise it turns them off, as v1.3.0 had
// neither.
func childV130Cgroup() (any, error) {
	defaults := os.Getenv("WATCHDOG_V130_DEFAULTS") == "1"
	if !defaults {
		HeadroomSoftLimit, KernelEvents = false, false
	}
	runtime.GC() // clear what start-up left
	debug.SetGCPercent(-1)
	clk := newV130Clock()
	Clock = clk
	rec := &recLogger{}
	SetLogger(rec)

	var mu sync.Mutex
	var res v130CgroupResult
	notified := 0
	first := make(chan struct{}, 1)
	NotifyGC = func() {
		mu.Lock()
		defer mu.Unlock()
		notified++
		if len(res.Order) < 4 {
			res.Order = append(res.Order, "NotifyGC")
		}
		select {
		case first <- struct{}{}:
		default:
		}
	}
	defer RegisterPostGCNotifee(func() {
		mu.Lock()
		defer mu.Unlock()
		if len(res.Order) < 4 {
			res.Order = append(res.Order, "post")
		}
	})()
	record := func(samples uint64) {
		s := Snapshot()
		mu.Lock()
		defer mu.Unlock()
		res.Ticks = append(res.Ticks, v130CgroupTick{samples, s.ForcedGCs, s.Usage, s.Threshold, notified})
	}

	armed := clk.armedCount()
	err, stop := CgroupDriven(v130Freq, NewAdaptivePolicy(0.5))
	if err != nil {
		return nil, err
	}
	defer stop()
	res.Limit = Snapshot().Limit
	if err := clk.waitArmed(armed); err != nil {
		return nil, err
	}
	n, err := clk.tick(v130Freq)
	if err != nil {
		return nil, err
	}
	record(n)

	// Half the limit in 1 MiB slabs, every page touched.
	retained := allocLive(int(res.Limit / 2 / mib))
	n, err = clk.tick(v130Freq)
	if err != nil {
		return nil, err
	}
	noGC := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return notified == 0 && Snapshot().GCs == 0
	}
	// A sample may have found the runtime's own GC due within a period at
	// the allocation rate it measured, and held off (Go 1.21's pacer sets
	// the goal that close here; later ones rarely do). The child allocates
	// nothing more and the mock clock moves only on ticks: the hold ends a
	// period after it began, and the GC is forced then.
	for extra := 0; defaults && extra < 3 && noGC() && len(rec.find("leaving it to the runtime")) > 0; extra++ {
		m, err := clk.tick(v130Freq)
		if err != nil {
			return nil, err
		}
		n += m
	}
	if err := v130WaitChan("a GC notification after usage crossed 50%", first); err != nil {
		return nil, err
	}
	record(n)
	if !defaults {
		// v1.3.0's system test went on past the first GC: the threshold is
		// now half-way from usage to the limit. A tick with nothing new
		// allocated forces nothing; retaining 1 to 2 MiB past the threshold
		// forces the next GC at the next tick.
		if n, err = clk.tick(v130Freq); err != nil {
			return nil, err
		}
		record(n)
		s := Snapshot()
		more := int((s.Threshold-min(s.Usage, s.Threshold)+mib-1)/mib) + 1 // 1 to 2 MiB past it
		retained = append(retained, allocLive(more)...)
		if n, err = clk.tick(v130Freq); err != nil {
			return nil, err
		}
		if err := v130WaitUntil("the second GC notification", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return notified >= 2
		}); err != nil {
			return nil, err
		}
		record(n)
	}
	stop()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.NumForcedGC = ms.NumForcedGC
	res.ForcedWarns = rec.find("WARN", "forcing GC")
	res.ForcedInfos = rec.find("INFO", "forcing GC")
	runtime.KeepAlive(retained)
	return res, nil
}

func runV130Cgroup(t *testing.T, env ...string) v130CgroupResult {
	t.Helper()
	g, cmd := cgroupChild(t, "watchdog-v130", v130CgroupLimit, "v130-cgroup")
	cmd.Env = append(cmd.Env, env...)
	out, err := childOutput(cmd)
	kills, kerr := g.OOMKills()
	require.NoError(t, kerr)
	require.NoError(t, err, "the child must survive in 32 MiB (OOM kills: %d):\n%s", kills, out)
	assert.Zero(t, kills)
	var res v130CgroupResult
	decodeChild(t, out, &res)
	require.GreaterOrEqual(t, len(res.Ticks), 2)
	assert.Equal(t, uint64(v130CgroupLimit), res.Limit, "CgroupDriven found the group's limit")
	tick1 := res.Ticks[0]
	assert.Zero(t, tick1.Notified, "tick 1: nothing allocated, no GC (usage %d, threshold %d bytes)", tick1.Usage, tick1.Threshold)
	assert.Zero(t, tick1.ForcedGCs)
	assert.Equal(t, uint64(1), tick1.Samples, "tick 1: one sample per advance of the clock")
	assert.GreaterOrEqual(t, res.Ticks[1].Notified, 1, "tick 2: usage crossed 50%%, a GC was notified")
	t.Logf("tick 1: usage %d, threshold %d bytes; tick 2: usage %d, threshold %d bytes, %d GCs notified, %d forced",
		tick1.Usage, tick1.Threshold, res.Ticks[1].Usage, res.Ticks[1].Threshold, res.Ticks[1].Notified, res.Ticks[1].ForcedGCs)
	return res
}

// TestV130CgroupsDriven is v1.3.0's test as it was: no soft limit, no kernel
// events, only the mock clock's ticks. Half the limit retained crosses the
// adaptive threshold (half-way from usage to the limit), and the second
// tick forces exactly one GC. Then, as v1.3.0's system test did, a third
// tick with usage under the new threshold forces nothing and a fourth one
// past it forces the second GC: the runtime counts three forced GCs, the
// test's own included.
func TestV130CgroupsDriven(t *testing.T) {
	if raceEnabled {
		t.Skip("runs in the non-race pass of make test: the race detector's shadow memory does not fit in 32 MiB")
	}
	res := runV130Cgroup(t)
	require.Len(t, res.Ticks, 4)
	for i, want := range []struct {
		forced   uint64
		notified int
	}{{0, 0}, {1, 1}, {1, 1}, {2, 2}} {
		tick := res.Ticks[i]
		assert.Equal(t, want.forced, tick.ForcedGCs, "tick %d: forced GCs so far (usage %d, threshold %d bytes)", i+1, tick.Usage, tick.Threshold)
		assert.Equal(t, want.notified, tick.Notified, "tick %d: GCs notified so far", i+1)
		assert.Equal(t, uint64(1), tick.Samples, "tick %d: one sample per advance of the clock", i+1)
	}
	tick2 := res.Ticks[1]
	assert.InDelta(t, tick2.Usage+(res.Limit-tick2.Usage)/2, tick2.Threshold, 1, "after the GC, half-way from usage to the limit")
	assert.Equal(t, uint32(3), res.NumForcedGC, "the test's GC and the watchdog's two")
	assert.Equal(t, []string{"NotifyGC", "post", "NotifyGC", "post"}, res.Order, "NotifyGC before the post-GC notifees")
	assert.Len(t, res.ForcedWarns, 2, "each forced GC is logged at warn level")
	assert.Empty(t, res.ForcedInfos)
}

// TestV130CgroupsDrivenDefaults runs the same test with this library's
// defaults, as a program that swaps v1.3.0 for it would: the soft limit and
// the kernel's usage event may make the GC come before the tick, and it may
// be the runtime's own, driven by the soft limit; either way the watchdog
// keeps the child alive and notifies GCs once usage crosses 50%.
func TestV130CgroupsDrivenDefaults(t *testing.T) {
	if raceEnabled {
		t.Skip("runs in the non-race pass of make test: the race detector's shadow memory does not fit in 32 MiB")
	}
	res := runV130Cgroup(t, "WATCHDOG_V130_DEFAULTS=1")
	require.NotEmpty(t, res.Order)
	assert.Equal(t, "NotifyGC", res.Order[0], "NotifyGC before the post-GC notifees")
}
