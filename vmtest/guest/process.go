//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// workerBound is the failure bound for one worker process.
const workerBound = 45 * time.Second

// exitInfo is how a worker ended, plus the REPORT lines it printed.
type exitInfo struct {
	code   int            // exit status; -1 when killed by a signal
	signal syscall.Signal // the killing signal, or 0
	report map[string]string
}

func (e exitInfo) String() string {
	if e.signal != 0 {
		return fmt.Sprintf("killed by signal %d (%v)", int(e.signal), e.signal)
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// spawn runs /init with args as a child of init, echoes its output on the
// console indented under the scenario and collects its "REPORT k v" lines.
// A "STEP <name>" line asks init to act on the running worker: spawn calls
// control with the worker's pid and the step, then answers on the worker's
// stdin with "OK <name>" or "FAIL <name> <error>" (see env.step). A nil
// control fails every step. A child still running at workerBound is killed
// by pid and reported as an error.
func spawn(control func(pid int, step string) error, args ...string) (exitInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), workerBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/init", args...)
	pr, pw, err := os.Pipe()
	if err != nil {
		return exitInfo{}, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	stdin, err := cmd.StdinPipe()
	if err != nil {
		pw.Close()
		pr.Close()
		return exitInfo{}, err
	}
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return exitInfo{}, err
	}
	pw.Close()
	info := exitInfo{report: map[string]string{}}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		fmt.Printf("  | %s\n", line)
		if rest, ok := strings.CutPrefix(line, "REPORT "); ok {
			k, v, _ := strings.Cut(rest, " ")
			info.report[k] = v
		}
		if step, ok := strings.CutPrefix(line, "STEP "); ok {
			err := fmt.Errorf("no control for step %q", step)
			if control != nil {
				err = control(cmd.Process.Pid, step)
			}
			answer := "OK " + step
			if err != nil {
				answer = "FAIL " + step + " " + oneLine(err.Error())
				info.report["step_error"] = strings.ReplaceAll(oneLine(err.Error()), " ", "_")
			}
			fmt.Printf("  > %s\n", answer)
			_, _ = fmt.Fprintln(stdin, answer) // a worker that died does not read it
		}
	}
	stdin.Close()
	pr.Close()
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return info, fmt.Errorf("worker %v still running after %v; killed", args, workerBound)
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return info, werr
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	info.code = ws.ExitStatus()
	if ws.Signaled() {
		info.signal = ws.Signal()
	}
	return info, nil
}

// enter is the first stage of a Docker-style worker: it joins the cgroup
// dir, starts the worker in new cgroup, mount and PID namespaces, and leaves
// dir again. The worker is PID 1 of its PID namespace, /proc/self/cgroup
// shows "/" and the cgroup file system it mounts has dir as its root, as in
// a container. The namespaces are created at clone time because
// unshare(CLONE_NEWCGROUP) would move only the calling thread of a Go
// program, and from inside dir because a new cgroup namespace is rooted at
// the cgroup of the process that clones.
func enter(name, dir string) int {
	s := lookup(name)
	if s == nil {
		fmt.Printf("REPORT error enter: unknown scenario %q\n", name)
		return 2
	}
	version := s.version
	if err := joinCgroup(dir); err != nil {
		fmt.Printf("REPORT error enter: %v\n", err)
		return 1
	}
	cmd := exec.Command("/init", "worker", name, "-")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWCGROUP | unix.CLONE_NEWNS | unix.CLONE_NEWPID,
	}
	if err := cmd.Start(); err != nil {
		fmt.Printf("REPORT error enter: starting the namespaced worker: %v\n", err)
		return 1
	}
	// Leave the container's cgroup, as a container runtime's shim does, so
	// that only the container's own processes are charged to it.
	if err := joinCgroup(versionRoot(version)); err != nil {
		fmt.Printf("REPORT error enter: leaving %s: %v\n", dir, err)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 1
	}
	_ = cmd.Wait()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		fmt.Printf("REPORT worker_signal %d\n", int(ws.Signal()))
		return 3
	}
	return ws.ExitStatus()
}

// containerView gives a namespaced worker its own view of /proc and of the
// cgroup file system: it replaces the mounts inherited from init with fresh
// ones, whose root is the cgroup namespace root, and returns the worker's
// cgroup directory in that view. It also checks that /proc/self/cgroup
// shows the namespace root, "/".
func containerView(version int) (string, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", fmt.Errorf("making mounts private: %w", err)
	}
	type mnt struct{ src, dst, fstype, data string }
	mounts := []mnt{{"proc", "/proc", "proc", ""}}
	if version == 2 {
		mounts = append(mounts, mnt{"cgroup2", cgroupRoot, "cgroup2", ""})
	} else {
		mounts = append(mounts, mnt{"cgroup", memoryV1Root, "cgroup", "memory"})
	}
	for _, m := range mounts {
		if err := unix.Unmount(m.dst, unix.MNT_DETACH); err != nil {
			return "", fmt.Errorf("unmounting %s: %w", m.dst, err)
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, m.data); err != nil {
			return "", fmt.Errorf("mounting %s on %s: %w", m.fstype, m.dst, err)
		}
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	self := strings.TrimSpace(string(b))
	fmt.Printf("REPORT proc_self_cgroup %s\n", strings.ReplaceAll(self, "\n", ";"))
	want := "0::/"
	if version == 1 {
		want = ":memory:/"
	}
	if !strings.Contains(self+"\n", want+"\n") {
		return "", fmt.Errorf("/proc/self/cgroup is %q; want a line ending in %q", self, want)
	}
	if os.Getpid() != 1 {
		return "", fmt.Errorf("namespaced worker has pid %d; want 1", os.Getpid())
	}
	return versionRoot(version), nil
}
