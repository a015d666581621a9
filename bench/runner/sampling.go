package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// benchLine is one parsed line of `go test -bench -benchmem` output.
type benchLine struct {
	Name     string // without the Benchmark prefix and the -GOMAXPROCS suffix
	N        int64
	NsPerOp  float64
	BPerOp   float64
	Allocs   float64
	Verdict  string // against the targets, "" if the row has none
	Target   string
	Subject  string // who samples this way
	Describe string
}

// sampleDocs describes the benchmarks by name; a row absent here is still
// reported, without a description.
var sampleDocs = map[string]struct{ subject, what, target string }{
	"ThisCgroupV1/Usage":       {"this", "cgroup v1 usage (`memory.usage_in_bytes`), host cgroup", "cgroup"},
	"ThisCgroupV1/Reclaimable": {"this", "cgroup v1 reclaimable file cache from `memory.stat`, host cgroup", ""},
	"ThisCgroupV1/Limit":       {"this", "cgroup v1 effective limit (walks the hierarchy)", ""},
	"ThisCgroupV2/Usage":       {"this", "cgroup v2 usage (`memory.current`), fixture tree", "cgroup"},
	"ThisCgroupV2/Reclaimable": {"this", "cgroup v2 reclaimable file cache from `memory.stat`, fixture tree", ""},
	"ThisCgroupV2/Limit":       {"this", "cgroup v2 effective limit (walks the hierarchy), fixture tree", ""},
	"ThisSystem/Usage":         {"this", "system usage (`internal/source.NewSystem`)", "system"},
	"ThisSystem/Reclaimable":   {"this", "system reclaimable", ""},
	"V130CgroupStat":           {"v1.3.0", "containerd/cgroups `Stat()` (v1 memory subsystem), host cgroup", "cgroup"},
	"V130GosigarMem":           {"v1.3.0", "gosigar `(*Mem).Get`", "system"},
}

var benchRE = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+(\d+)\s+([\d.]+) ns/op(?:\s+([\d.]+) B/op)?(?:\s+([\d.]+) allocs/op)?`)

// runSampling runs the sampling benchmarks of this library, then those of
// v1.3.0's samplers (built with go.v130.mod), and parses their output. It
// returns the parsed rows and the command lines it ran.
func runSampling(ctx context.Context, benchDir, benchtime string) ([]benchLine, []string, error) {
	var rows []benchLine
	var cmds []string
	for _, extra := range [][]string{nil, {"-tags", "watchdog_v130", "-modfile", "go.v130.mod"}} {
		r, cmd, err := runGoBench(ctx, benchDir, benchtime, extra)
		cmds = append(cmds, cmd)
		if err != nil {
			return rows, cmds, err
		}
		rows = append(rows, r...)
	}
	return rows, cmds, nil
}

func runGoBench(ctx context.Context, benchDir, benchtime string, extra []string) ([]benchLine, string, error) {
	args := append(append([]string{"test"}, extra...), "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "-benchtime", benchtime, "./sampling")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = benchDir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	cmdline := "go " + strings.Join(args, " ")
	cmdline = strings.Replace(cmdline, "^$", "'^$'", 1)
	if err := cmd.Run(); err != nil {
		return nil, cmdline, fmt.Errorf("%s: %w\n%s", cmdline, err, out.String())
	}
	var rows []benchLine
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		m := benchRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := benchLine{Name: m[1]}
		r.N, _ = strconv.ParseInt(m[3], 10, 64)
		r.NsPerOp, _ = strconv.ParseFloat(m[4], 64)
		r.BPerOp, _ = strconv.ParseFloat(m[5], 64)
		r.Allocs, _ = strconv.ParseFloat(m[6], 64)
		if d, ok := sampleDocs[r.Name]; ok {
			r.Subject, r.Describe = d.subject, d.what
			switch d.target {
			case "cgroup":
				r.Target = "≤ 2 µs, 0 allocs"
				r.Verdict = verdict(r, 2000)
			case "system":
				r.Target = "≤ 10 µs, 0 allocs"
				r.Verdict = verdict(r, 10000)
			}
			if r.Subject != "this" {
				r.Verdict = "" // the targets are for this library
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, cmdline, fmt.Errorf("%s printed no benchmark lines:\n%s", cmdline, out.String())
	}
	return rows, cmdline, nil
}

func verdict(r benchLine, maxNs float64) string {
	if r.NsPerOp <= maxNs && r.Allocs == 0 {
		return "met"
	}
	return "**missed**"
}
