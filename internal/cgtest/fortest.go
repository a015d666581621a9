package cgtest

import "testing"

// ForTest is New for a test: it skips tb when this machine cannot have a
// group (see Available), fails it when the group cannot be created, and
// removes the group (killing any process of ours left in it) when tb ends,
// reporting a failed removal as a test error.
func ForTest(tb testing.TB, name string, limit uint64) *Group {
	tb.Helper()
	if ok, why := Available(); !ok {
		tb.Skipf("%s needs a memory-capped cgroup v1 group: %s", tb.Name(), why)
	}
	g, err := New(name, limit)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := g.Remove(); err != nil {
			tb.Errorf("removing the memory cgroup %s: %v", g.Dir, err)
		}
	})
	return g
}
