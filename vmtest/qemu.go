package vmtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Result is one "VMTEST RESULT <scenario> PASS|FAIL <details>" line that the
// guest printed on the serial console.
type Result struct {
	Scenario string
	Pass     bool
	Details  string
}

// Run is what one VM boot produced.
type Run struct {
	Results  map[string]Result // by scenario name
	Done     bool              // the guest printed "VMTEST DONE" before powering off
	Fatal    []string          // "VMTEST FATAL" lines: the guest could not run its scenarios
	TimedOut bool              // the VM was killed at the deadline
	Elapsed  time.Duration
}

// VM describes one QEMU boot.
type VM struct {
	Kernel  string        // bzImage path
	Initrd  string        // initramfs path
	Append  string        // extra kernel command line, after the console setup
	MemMiB  int           // guest RAM; 0 means 512
	CPUs    int           // vCPUs; 0 means 2
	Timeout time.Duration // hard limit for the whole boot; 0 means 3 minutes
	QEMU    string        // emulator binary; "" means qemu-system-x86_64
}

// Boot runs the VM to power-off and parses the guest's result lines. Every
// byte of the serial console is copied to console (which may be nil). At the
// deadline QEMU is killed by its pid and Run.TimedOut is set. The returned
// error reports a QEMU that could not start or that exited abnormally.
func (vm VM) Boot(ctx context.Context, console io.Writer) (Run, error) {
	mem, cpus, timeout, qemu := vm.MemMiB, vm.CPUs, vm.Timeout, vm.QEMU
	if mem == 0 {
		mem = 512
	}
	if cpus == 0 {
		cpus = 2
	}
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	if qemu == "" {
		qemu = "qemu-system-x86_64"
	}
	if console == nil {
		console = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := []string{
		"-accel", "tcg", "-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", vm.Kernel, "-initrd", vm.Initrd,
		"-append", strings.TrimSpace("console=ttyS0 panic=-1 quiet loglevel=3 " + vm.Append),
	}
	cmd := exec.CommandContext(ctx, qemu, args...) // Cancel kills cmd.Process by pid
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Run{}, err
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Run{}, fmt.Errorf("starting %s: %w", qemu, err)
	}
	run := parseConsole(io.TeeReader(out, console))
	werr := cmd.Wait()
	run.Elapsed = time.Since(start)
	if ctx.Err() != nil {
		run.TimedOut = true
		return run, nil
	}
	if werr != nil && !errors.Is(werr, exec.ErrWaitDelay) {
		return run, fmt.Errorf("%s: %w", qemu, werr)
	}
	return run, nil
}

// parseConsole reads serial output to EOF and collects the VMTEST lines.
// The marker is searched anywhere in a line, since kernel messages may share
// the serial line with the guest's output.
func parseConsole(r io.Reader) Run {
	run := Run{Results: map[string]Result{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		i := strings.Index(line, "VMTEST ")
		if i < 0 {
			continue
		}
		fields := strings.SplitN(line[i:], " ", 5)
		switch {
		case len(fields) >= 4 && fields[1] == "RESULT" && (fields[3] == "PASS" || fields[3] == "FAIL"):
			res := Result{Scenario: fields[2], Pass: fields[3] == "PASS"}
			if len(fields) == 5 {
				res.Details = fields[4]
			}
			run.Results[res.Scenario] = res
		case len(fields) >= 2 && fields[1] == "DONE":
			run.Done = true
		case len(fields) >= 2 && fields[1] == "FATAL":
			run.Fatal = append(run.Fatal, line[i:])
		}
	}
	_, _ = io.Copy(io.Discard, r) // keep draining after a scan error so QEMU never blocks
	return run
}
