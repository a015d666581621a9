package watchdog

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func init() {
	children["start-precedence"] = childStartPrecedence
}

type startOutcome struct {
	Driver  string
	Limit   uint64
	Skipped []string
	Err     string
}

// childStartPrecedence runs Start with the heap limit from the environment
// (as the parent set it) and reports what started.
func childStartPrecedence() (any, error) {
	Logger = &recLogger{}
	res, stop, err := Start(Options{HeapLimitEnv: "WATCHDOG_TEST_HEAP_MAX"})
	out := startOutcome{Driver: res.Driver, Limit: res.Limit, Skipped: res.Skipped}
	if err != nil {
		out.Err = err.Error()
	}
	stop()
	return out, nil
}

func TestStartPrecedence(t *testing.T) {
	t.Run("heap limit from the environment wins", func(t *testing.T) {
		var out startOutcome
		runChildTest(t, "start-precedence", &out, "WATCHDOG_TEST_HEAP_MAX=512MiB")
		assert.Equal(t, "heap", out.Driver)
		assert.Equal(t, uint64(512<<20), out.Limit)
		assert.Empty(t, out.Skipped)
	})
	t.Run("a garbage heap limit is skipped with the reason", func(t *testing.T) {
		var out startOutcome
		runChildTest(t, "start-precedence", &out, "WATCHDOG_TEST_HEAP_MAX=lots")
		assert.NotEqual(t, "heap", out.Driver)
		assert.NotEmpty(t, out.Driver, "a later driver started")
		if assert.NotEmpty(t, out.Skipped) {
			assert.Contains(t, out.Skipped[0], `WATCHDOG_TEST_HEAP_MAX="lots"`)
		}
	})
	t.Run("no heap limit: cgroup, else system", func(t *testing.T) {
		var out startOutcome
		runChildTest(t, "start-precedence", &out)
		assert.Empty(t, out.Err)
		assert.Contains(t, []string{"cgroup", "system"}, out.Driver)
		assert.Contains(t, out.Skipped[0], "heap: no heap limit configured")
		if out.Driver == "system" {
			assert.Len(t, out.Skipped, 2, "the cgroup driver's failure is reported")
			assert.Contains(t, out.Skipped[1], "cgroup:")
		}
		assert.Greater(t, out.Limit, uint64(0))
	})
}
