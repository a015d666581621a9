package watchdog

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

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

func runChild(name string) int {
	f, ok := children[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child scenario %q\n", name)
		return 2
	}
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
	cmd.Env = append(append(os.Environ(), childEnv+"="+name), env...)
	return cmd
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
	out, err := childCommand(name, env...).CombinedOutput()
	require.NoError(t, err, "child %s:\n%s", name, out)
	decodeChild(t, out, res)
}
