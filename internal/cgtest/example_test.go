package cgtest_test

import (
	"bufio"
	"fmt"
	"log"

	"github.com/raulk/go-watchdog/internal/cgtest"
)

// A child process moves from one group to another, whose limit is then
// lowered. It needs root and a writable cgroup v1 memory hierarchy (see
// Available), so it is compiled but not run by go test; the package's
// tests run the same calls.
func ExampleGroup_Add() {
	if ok, why := cgtest.Available(); !ok {
		log.Fatal(why)
	}
	from, err := cgtest.New("example-from", 256<<20)
	if err != nil {
		log.Fatal(err)
	}
	defer from.Remove()
	to, err := cgtest.New("example-to", 128<<20)
	if err != nil {
		log.Fatal(err)
	}
	defer to.Remove()

	// The program says when it runs: Command's wrapper has joined from by
	// then, so it cannot undo the move.
	cmd := from.Command("sh", "-c", "echo running; exec sleep 60")
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		log.Fatal(err)
	}
	if err := to.Add(cmd.Process.Pid); err != nil { // sleep now runs in to
		log.Fatal(err)
	}
	if err := to.SetLimit(64 << 20); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sleep runs in", to.Dir, "capped at 64 MiB")
	// The deferred Removes kill sleep and remove both groups.
}
