package watchdog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTHPOn(t *testing.T) {
	for _, c := range []struct {
		mode       string
		processOff bool
		godebug    string
		want       bool
	}{
		{"[always] madvise never\n", false, "", true},
		{"always [madvise] never\n", false, "", false},
		{"always madvise [never]\n", false, "", false},
		{"[always] madvise never\n", true, "", false},
		{"[always] madvise never\n", false, "gctrace=1,disablethp=1", false},
		{"[always] madvise never\n", false, "disablethp=0", true},
		{"", false, "", false},
	} {
		assert.Equal(t, c.want, thpOn([]byte(c.mode), c.processOff, c.godebug), "%q process off %v GODEBUG %q", c.mode, c.processOff, c.godebug)
	}
}

func TestSoftLimitLogsTHPAdviceOnce(t *testing.T) {
	for _, on := range []bool{true, false} {
		saved := detectTHP
		detectTHP = func() bool { return on }
		h := newHarness(t, 256*mib, 100*mib)
		h.start(NewWatermarkPolicy(0.9), time.Second)
		d := h.wait()
		for i := 0; i < 3; i++ {
			h.src.set(func(f *fakeSource) { f.usage += 20 * mib })
			d = h.tick(d)
		}
		want := 0
		if on {
			want = 1
		}
		assert.Len(t, h.log.find("INFO", "transparent huge pages are always on", "GODEBUG=disablethp=1"), want, "THP always %v", on)
		h.stop()
		detectTHP = saved
	}
}
