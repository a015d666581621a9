//go:build watchdog_v130

// The samplers go-watchdog v1.3.0 uses, with the dependency versions it was
// released with: run with -tags watchdog_v130 -modfile=go.v130.mod.

package sampling

import (
	"runtime"
	"testing"

	"github.com/containerd/cgroups"
	"github.com/elastic/gosigar"
)

// BenchmarkV130CgroupStat is how v1.3.0's CgroupDriven samples: the cgroup
// is loaded once, and every tick calls Stat and reads Memory.Usage.Usage.
func BenchmarkV130CgroupStat(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("cgroups are Linux only")
	}
	cg, err := cgroups.Load(cgroups.SingleSubsystem(cgroups.V1, cgroups.Memory), cgroups.NestedPath(""))
	if err != nil {
		b.Skipf("containerd/cgroups Load: %v", err)
	}
	benchSource(b, func() (uint64, error) {
		st, err := cg.Stat()
		if err != nil {
			return 0, err
		}
		return st.Memory.Usage.Usage, nil
	})
}

// BenchmarkV130GosigarMem is how v1.3.0's SystemDriven samples: every tick
// calls (*gosigar.Mem).Get and reads ActualUsed.
func BenchmarkV130GosigarMem(b *testing.B) {
	var m gosigar.Mem
	benchSource(b, func() (uint64, error) {
		if err := m.Get(); err != nil {
			return 0, err
		}
		return m.ActualUsed, nil
	})
}
