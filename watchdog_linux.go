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
// set: the cgroup's usage minus its inactive file cache, which the kernel
// reclaims before it kills anything.
//
// It samples usage every frequency, faster as usage nears the threshold, and
// wakes early on the kernel's usage and pressure events where available. It
// forces a GC when usage reaches the policy's threshold and recomputes the
// threshold after every GC. The limit is re-read every 5 seconds; when it
// changes, the policy is rebuilt for the new one.
//
// It returns an error, and starts nothing, when no memory cgroup is found,
// when no limit is set anywhere on the path (the error wraps
// ErrNoCgroupLimit), for frequency <= 0, a nil policyCtor, or a policyCtor
// error. Callers then fall back to SystemDriven.
func CgroupDriven(frequency time.Duration, policyCtor PolicyCtor) (err error, stopFn func()) {
	if err := checkFrequency(frequency); err != nil {
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
