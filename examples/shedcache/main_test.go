package main

import (
	"os"
	"testing"
)

// runMainEnv makes the test binary run the program itself, main with the
// command line it was given, instead of the tests: the cgroup tests start
// it that way inside a memory-capped group.
const runMainEnv = "SHEDCACHE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
