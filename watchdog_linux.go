package watchdog

import (
	"fmt"
	"time"

	"github.com/raulk/go-watchdog/internal/cgroups"
)

// CgroupDriven starts a watchdog over the memory cgroup of this process,
// cgroup v1 or v2 (hybrid hosts included). The limit is the smallest memory
// limit on the path from the process's cgroup up to the root it can see, so a
// limit on a parent (a pod or a slice) counts; inside a container (PID 1, or a
// cgroup namespace) that root is the container's cgroup. Usage is the working
// set: the cgroup's usage minus its clean file cache (active and inactive),
// which the kernel reclaims before it kills anything.
//
// It samples usage every frequency, faster as usage nears the threshold, and
// wakes early on the kernel's usage and pressure events where available. It
// forces a GC when usage reaches the policy's threshold and recomputes the
// threshold after every GC. When the runtime's own GC is due within the
// polling period, well under the limit, and the policy would move its
// threshold above usage after a GC, it waits for that GC instead. When a
// forced GC does not bring usage under the threshold it was forced at, the
// next waits for the polling period (or for usage to grow by a step). The limit is re-read every 5 seconds, and the cgroup
// rediscovered then (and when reads fail), so a process moved to another
// cgroup follows it; the limit, the soft limit and Snapshot follow at once,
// and the policy is rebuilt for the new limit (if the constructor rejects
// it, the old policy stays, with one warning).
//
// It returns an error, and starts nothing, when no memory cgroup is found,
// when no limit is set anywhere on the path (the error wraps
// ErrNoCgroupLimit), for frequency <= 0, a nil policyCtor, or a policyCtor
// error. Callers then fall back to SystemDriven.
func CgroupDriven(frequency time.Duration, policyCtor PolicyCtor) (err error, stopFn func()) {
	frequency, err = checkFrequency(frequency)
	if err != nil {
		return err, nil
	}
	if policyCtor == nil {
		return errNilPolicy, nil
	}
	r, err := cgroups.Open(cgroups.Config{})
	if err != nil {
		return fmt.Errorf("watchdog: %w", err), nil
	}
	limit, err := r.Limit()
	if err != nil {
		r.Close()
		return fmt.Errorf("watchdog: %w", err), nil
	}
	return startPolled("cgroup", UtilizationProcess, r, policyCtor, limit, frequency, true)
}
