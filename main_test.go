package watchdog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// childEnv names the scenario a re-executed test binary runs instead of the
// tests. Scenarios that change process-wide runtime state (GOGC, the soft
// memory limit, GC counts) or that must live in a small cgroup run this way.
const childEnv = "WATCHDOG_TEST_CHILD"

// children are the scenarios a child process can run. Each returns a result
// that the parent decodes and asserts on, or an error.
var children = map[string]func() (any, error){}

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	goleak.VerifyTestMain(m)
}

// childTimeout bounds a child scenario. Past it the child prints every
// goroutine's stack and exits, so a deadlock fails the test that started it,
// with the stacks that show where, instead of timing the whole package out.
// childKill is the parent's bound, for a child too stuck to do that.
const (
	childTimeout = 2 * time.Minute
	childKill    = childTimeout + 30*time.Second
)

func runChild(name string) int {
	f, ok := children[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child scenario %q\n", name)
		return 2
	}
	time.AfterFunc(childTimeout, func() {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "child %s: no result after %v; goroutines:\n%s\n", name, childTimeout, buf)
		os.Exit(3)
	})
	res, err := f()
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s failed: %v\n", name, err)
		return 1
	}
	b, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: encoding result: %v\n", name, err)
		return 1
	}
	fmt.Printf("CHILD-RESULT %s\n", b)
	return 0
}

// childCommand is the command that re-runs this test binary as scenario name.
func childCommand(name string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(childEnviron(name), env...)
	return cmd
}

// childEnviron is the environment of a child running scenario name. A race
// build sleeps a second at exit, for reports from other threads; children
// report through their exit status, so they skip it.
func childEnviron(name string) []string {
	race := "atexit_sleep_ms=0"
	if v := os.Getenv("GORACE"); v != "" {
		race = v + " " + race
	}
	return append(os.Environ(), childEnv+"="+name, "GORACE="+race)
}

// startChild starts cmd and kills it (its own process, by pid) if it has not
// exited after childKill. wait waits for it and says whether it was killed.
func startChild(cmd *exec.Cmd) (wait func() error, err error) {
	cmd.WaitDelay = 10 * time.Second // a leaked grandchild must not hold the pipes
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	timer := time.AfterFunc(childKill, func() { _ = cmd.Process.Kill() })
	return func() error {
		err := cmd.Wait()
		if !timer.Stop() {
			return fmt.Errorf("child killed after %v without exiting (%v)", childKill, err)
		}
		return err
	}, nil
}

// childOutput runs cmd as startChild does and returns its stdout and stderr
// together, like CombinedOutput.
func childOutput(cmd *exec.Cmd) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	wait, err := startChild(cmd)
	if err != nil {
		return nil, err
	}
	err = wait()
	return out.Bytes(), err
}

// decodeChild finds the result line in a child's output and decodes it.
func decodeChild(t *testing.T, out []byte, res any) {
	t.Helper()
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "CHILD-RESULT "); ok {
			require.NoError(t, json.Unmarshal([]byte(rest), res), "child result %q", rest)
			return
		}
	}
	t.Fatalf("child printed no result:\n%s", out)
}

// runChildTest runs scenario name in a fresh process and decodes its result.
func runChildTest(t *testing.T, name string, res any, env ...string) {
	t.Helper()
	out, err := childOutput(childCommand(name, env...))
	require.NoError(t, err, "child %s:\n%s", name, out)
	decodeChild(t, out, res)
}
