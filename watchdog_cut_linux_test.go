package watchdog

import (
	"bufio"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limit cut from 1 GiB to 48 MiB under a running watchdog: with default
// settings the program survives as one started at 48 MiB does (GOGC alone
// is killed: 26 MiB live and fast garbage need about 52 MiB).

func init() {
	children["cgroup-cut"] = childCgroupCut
}

func childCgroupCut() (any, error) {
	err, stop := CgroupDriven(time.Second, NewWatermarkPolicy(0.50, 0.60, 0.70, 0.85, 0.90, 0.925, 0.95))
	if err != nil {
		return nil, err
	}
	defer stop()
	live := allocLive(26)
	res := map[string]moveStep{"started": stepNow()}
	if err := awaitParent(bufio.NewScanner(os.Stdin), "STARTED", "CUT"); err != nil {
		return nil, err
	}
	awaitLimit(48 << 20) // the watchdog follows the cut at its next sample
	res["cut"] = stepNow()
	churn(1 << 30)
	res["churned"] = stepNow()
	runtime.KeepAlive(live)
	return res, nil
}

func TestCgroupDrivenSurvivesALimitCut(t *testing.T) {
	requireCgroups(t)
	if raceEnabled {
		t.Skip("runs in the non-race pass of make test: race shadow memory counts against the 48 MiB cap")
	}
	g, cmd := cgroupChild(t, "watchdog-cut", 1<<30, "cgroup-cut")
	out := runWithParent(t, cmd, "STARTED", func(int) string {
		require.NoError(t, g.SetLimit(48<<20))
		return "CUT"
	})
	kills, err := g.OOMKills()
	require.NoError(t, err)
	assert.Zero(t, kills)
	var res map[string]moveStep
	decodeChild(t, out, &res)
	assert.Equal(t, uint64(1<<30), res["started"].Limit)
	cut := res["cut"]
	assert.Equal(t, uint64(48<<20), cut.Limit)
	assert.Positive(t, cut.SoftLimit)
	assert.Less(t, cut.SoftLimit, int64(48<<20), "the soft limit followed the cut")
}

func init() {
	children["cgroup-unlimit"] = childCgroupUnlimit
}

// childCgroupUnlimit runs CgroupDriven until the parent removes the group's
// limit, then reports what the watchdog does with no limit.
func childCgroupUnlimit() (any, error) {
	limitRefresh = 100 * time.Millisecond
	rec := &recLogger{}
	SetLogger(rec)
	err, stop := CgroupDriven(50*time.Millisecond, NewWatermarkPolicy(0.5, 0.9))
	if err != nil {
		return nil, err
	}
	defer stop()
	res := map[string]any{"Started": stepNow()}
	if err := awaitParent(bufio.NewScanner(os.Stdin), "STARTED", "REMOVED"); err != nil {
		return nil, err
	}
	awaitLimit(0)
	for samples := Snapshot().Samples; Snapshot().Samples < samples+20; { // 20 more samples, 4 more limit reads
		time.Sleep(10 * time.Millisecond)
	}
	s := Snapshot()
	res["Removed"], res["Threshold"], res["Soft"] = stepNow(), s.Threshold, currentSoftLimit()
	res["Warnings"] = rec.withLevel("WARN")
	return res, nil
}

func currentSoftLimit() int64 { return setMemoryLimit(-1) }

func TestCgroupDrivenFollowsARemovedLimit(t *testing.T) {
	g, cmd := cgroupChild(t, "watchdog-unlimit", 256<<20, "cgroup-unlimit")
	out := runWithParent(t, cmd, "STARTED", func(int) string {
		for _, f := range []string{"memory.memsw.limit_in_bytes", "memory.limit_in_bytes"} {
			if p := g.Dir + "/" + f; fileExistsTest(p) {
				require.NoError(t, os.WriteFile(p, []byte("-1"), 0o644))
			}
		}
		return "REMOVED"
	})
	var res struct {
		Started, Removed moveStep
		Threshold        uint64
		Soft             int64
		Warnings         []string
	}
	decodeChild(t, out, &res)
	assert.Equal(t, uint64(256<<20), res.Started.Limit)
	assert.Positive(t, res.Started.SoftLimit)
	assert.Zero(t, res.Removed.Limit)
	assert.Zero(t, res.Removed.SoftLimit)
	assert.Equal(t, PolicyTempDisabled, res.Threshold)
	assert.Equal(t, int64(1<<63-1), res.Soft, "the program's soft limit (none) is back")
	assert.Len(t, res.Warnings, 1, "one warning, not one per refresh: %q", res.Warnings)
}

func fileExistsTest(p string) bool { _, err := os.Stat(p); return err == nil }
