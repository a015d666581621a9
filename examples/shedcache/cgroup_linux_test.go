package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raulk/go-watchdog/internal/cgtest"
)

// TestShedInRealCgroup runs the program in a fresh cgroup v1 memory group
// capped at 128 MiB, created under this test's own group: the watchdog reads
// the group's limit, the workload drives the live heap up through the
// moderate and then the critical level, and the program reports each
// shedding on stdout. The test process itself never joins the group.
func TestShedInRealCgroup(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory is charged to the cgroup and grows with the heap, so no 128 MiB run is meaningful; run go test without -race for this test")
	}
	const limit = 128 << 20
	g := cgtest.ForTest(t, "shedcache", limit)

	profiles := t.TempDir()
	cmd := g.Command(os.Args[0], "-profile-dir", profiles, "-timeout", "90s")
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A failure bound: a child stuck past its own -timeout is killed, by
	// its pid, which ends the reading below.
	killer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer killer.Stop()

	var lines []string
	first := map[string]int{} // line kind -> index of its first line
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Log("child:", line)
		for _, kind := range []string{"shed at moderate:", "cleared at critical:", "done:"} {
			if _, seen := first[kind]; !seen && strings.HasPrefix(line, kind) {
				first[kind] = len(lines)
			}
		}
		lines = append(lines, line)
	}
	werr := cmd.Wait()
	kills, kerr := g.OOMKills()
	if kerr != nil {
		t.Fatal(kerr)
	}
	peak, _ := g.MaxUsage()
	t.Logf("group peak usage %.1f MiB of %d MiB; OOM kills %d", float64(peak)/(1<<20), limit>>20, kills)
	if werr != nil || kills != 0 {
		t.Fatalf("the program must survive: exit %v, %d OOM kills; its stderr:\n%s", werr, kills, stderr.String())
	}

	shed, okShed := first["shed at moderate:"]
	cleared, okCleared := first["cleared at critical:"]
	_, okDone := first["done:"]
	switch {
	case !okShed:
		t.Errorf("the cache never shed at moderate pressure; stderr:\n%s", stderr.String())
	case !okCleared:
		t.Errorf("the cache was never cleared at critical pressure; stderr:\n%s", stderr.String())
	case cleared < shed:
		t.Errorf("the cache cleared at critical (line %d) before it shed at moderate (line %d)", cleared, shed)
	case !okDone:
		t.Errorf("the program did not report the pressure back to none")
	}
	// Each shedding dropped something.
	for _, line := range lines {
		var n int
		if _, err := fmt.Sscanf(line, "shed at moderate: dropped %d entries", &n); err == nil && n == 0 {
			t.Errorf("a shedding at moderate dropped nothing: %q", line)
		}
		if _, err := fmt.Sscanf(line, "cleared at critical: dropped %d entries", &n); err == nil && n == 0 {
			t.Errorf("the clearing at critical dropped nothing: %q", line)
		}
	}

	// The first critical level of the run wrote the watchdog's last words.
	for _, ext := range []string{".heap", ".goroutines"} {
		if m, _ := filepath.Glob(filepath.Join(profiles, "*-critical"+ext)); len(m) == 0 {
			t.Errorf("no *-critical%s file in -profile-dir after the critical level", ext)
		}
	}
	t.Logf("watchdog log:\n%s", stderr.String())
}
