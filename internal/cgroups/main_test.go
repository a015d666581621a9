package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// childEnv, when set, makes the test binary a child process for the real
// cgroup tests instead of running the tests (see holdChild).
const childEnv = "CGROUPS_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "hold" {
		os.Exit(holdChild())
	}
	goleak.VerifyTestMain(m)
}

// holdChild prints "ready", then for each line "alloc <MiB>" on stdin
// allocates and touches that much memory, keeps it, and prints "done". It
// exits at the end of its input.
func holdChild() int {
	var held [][]byte
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "alloc %d", &n); err != nil {
			fmt.Fprintf(os.Stderr, "child: bad command %q: %v\n", sc.Text(), err)
			return 2
		}
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = 1
			}
			held = append(held, b)
		}
		fmt.Println("done")
	}
	runtime.KeepAlive(held)
	return 0
}
