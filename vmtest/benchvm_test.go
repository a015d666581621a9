//go:build vmtest

package vmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// psiTriggers are armed by init on every benchmark run's memory.pressure,
// from outside the run: the watchdog's own trigger
// (internal/cgroups/watch_linux.go) and two with the shortest window the
// kernel allows root (500 ms), to see whether any of them would wake a
// watchdog before usage reaches memory.max.
var psiTriggers = []string{"some 150000 2000000", "some 50000 500000", "some 10000 500000"}

// benchVM builds what the benchmark VMs boot: the guest as /init and the
// workload of bench/ built twice, against this repository and against
// v1.3.0. VMTEST_BENCH_REPO names another checkout of this repository to
// build workload-this from (to measure a change without committing it);
// the default is the enclosing one. VMTEST_BENCH_BASE names a checkout to
// build a third workload from, /bench/workload-base, for A/B runs.
type benchVM struct {
	kernel Kernel
	qemu   string
	work   string
	logDir string
	init   []byte
	files  map[string][]byte
}

func newBenchVM(t *testing.T) *benchVM {
	kernel, err := FindKernel()
	require.NoError(t, err)
	qemu, err := exec.LookPath("qemu-system-x86_64")
	require.NoError(t, err, "run vmtest/setup.sh")
	bv := &benchVM{kernel: kernel, qemu: qemu, work: t.TempDir(), logDir: os.Getenv("VMTEST_LOGDIR")}
	if bv.logDir == "" {
		bv.logDir = bv.work
	}
	require.NoError(t, os.MkdirAll(bv.logDir, 0o755))
	repo := ".."
	if r := os.Getenv("VMTEST_BENCH_REPO"); r != "" {
		repo = r
		t.Logf("workload-this built from %s (VMTEST_BENCH_REPO)", repo)
	}
	build := func(dir, out string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("go", append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %v in %s:\n%s", args, dir, b)
		bin, err := os.ReadFile(out)
		require.NoError(t, err)
		return bin
	}
	bv.init = build(".", filepath.Join(bv.work, "init"), "./guest")
	bv.files = map[string][]byte{
		"/bench/workload-this": build(filepath.Join(repo, "bench"), filepath.Join(bv.work, "workload-this"), "./workload"),
		"/bench/workload-v130": build("../bench", filepath.Join(bv.work, "workload-v130"),
			"-tags", "watchdog_v130", "-modfile", "go.v130.mod", "./workload"),
	}
	if base := os.Getenv("VMTEST_BENCH_BASE"); base != "" {
		t.Logf("workload-base built from %s (VMTEST_BENCH_BASE)", base)
		bv.files["/bench/workload-base"] = build(filepath.Join(base, "bench"), filepath.Join(bv.work, "workload-base"), "./workload")
	}
	return bv
}

// run boots one VM with the plan and returns its VMBENCH results; it fails
// the test unless the VM ran every run of the plan.
func (bv *benchVM) run(t *testing.T, name string, plan BenchPlan, timeout time.Duration) []BenchResult {
	t.Helper()
	planJSON, err := json.Marshal(plan)
	require.NoError(t, err)
	files := map[string][]byte{"/bench/plan.json": planJSON}
	for k, v := range bv.files {
		files[k] = v
	}
	cpio, err := BuildInitramfs(bv.init, files)
	require.NoError(t, err)
	initrd := filepath.Join(bv.work, name+".cpio")
	require.NoError(t, os.WriteFile(initrd, cpio, 0o644))

	logPath := filepath.Join(bv.logDir, name+".serial.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	run, err := VM{
		QEMU: bv.qemu, Kernel: bv.kernel.Image, Initrd: initrd,
		Append: "vmtest.bench=/bench/plan.json", MemMiB: benchVMMiB, Timeout: timeout,
	}.Boot(context.Background(), logFile)
	logFile.Close()
	t.Logf("VM %s ran %.1fs; serial log %s", name, run.Elapsed.Seconds(), logPath)
	serial, rerr := os.ReadFile(logPath)
	require.NoError(t, rerr)
	results, perr := ParseBenchLines(bytes.NewReader(serial))
	ok := err == nil && perr == nil && !run.TimedOut && run.Done && len(run.Fatal) == 0 && len(results) == len(plan.Runs)
	if !ok {
		tail(t, logPath)
	}
	require.NoError(t, err, "QEMU")
	require.NoError(t, perr)
	require.False(t, run.TimedOut, "VM still running after %v; QEMU was killed", timeout)
	require.Empty(t, run.Fatal, "the guest could not run the benchmark")
	require.True(t, run.Done, "the guest did not print VMTEST DONE")
	require.Len(t, results, len(plan.Runs))
	return results
}

// fmtMonitor is the log suffix of a run's Monitor.
func fmtMonitor(m *Monitor) string {
	if m == nil {
		return ""
	}
	var ps []string
	for _, p := range m.PSI {
		s := fmt.Sprintf("%q %d fires", p.Trigger, p.Fires)
		if p.Fires > 0 {
			s += fmt.Sprintf(" (first %.0f ms)", p.FirstMs)
		}
		if p.Error != "" {
			s += " (" + p.Error + ")"
		}
		ps = append(ps, s)
	}
	return fmt.Sprintf(" [first max event %.0f ms; PSI %s; pressure some %d µs, full %d µs]",
		m.FirstMaxMs, strings.Join(ps, ", "), m.PressureSomeUs, m.PressureFullUs)
}

// eventSourcesSection is the markdown section on the cgroup v2 event
// sources: one EventSourceTable per scenario.
func eventSourcesSection(all []BenchResult, scenarios, strategies []string) string {
	var b strings.Builder
	b.WriteString("#### Cgroup v2 event sources\n\n" +
		"Seen by init from outside each run: an inotify watch on the run's memory.events (when `max` first counted) and PSI triggers on its memory.pressure " +
		"(the watchdog's own, some 150 ms in 2000 ms, and two with the shortest window root may use). " +
		"Per trigger: runs it fired in, median fires per run, median time of the first fire from the run's start, and runs where it fired before the first `max` event (or in a run that never reached memory.max).\n\n")
	for _, sc := range scenarios {
		fmt.Fprintf(&b, "%s:\n\n%s\n", sc, EventSourceTable(all, sc, strategies))
	}
	return b.String()
}
