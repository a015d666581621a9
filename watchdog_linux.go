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
// cgroup namespace) that root is the container's cgroup. Usage is the
// cgroup's usage less its file cache (active and inactive, dirty and under
// writeback included), which the kernel writes back and reclaims before it
// kills anything.
//
// It samples usage every frequency (faster near the threshold and the
// limit) and wakes early on the kernel's usage and pressure events where
// available. At the sample that sees usage at or above the policy's
// threshold it forces a GC, unless a GC has ended since, and asks the
// policy for the next threshold after every GC. When a forced GC leaves
// usage at or above the threshold the policy then sets, the next waits for
// the polling period, or for the Go heap to grow by limit/16. The limit is
// re-read every 5 seconds, and the cgroup rediscovered then (and when reads
// fail), so a process moved to another cgroup follows it; the limit, the
// soft limit and Snapshot follow at once, and the policy is rebuilt for the
// new limit (if the constructor rejects it, the old policy stays, with one
// warning). A limit that is removed leaves the watchdog idle until one is
// set again.
//
// It returns an error, and starts nothing, when no memory cgroup is found,
// when no limit is set anywhere on the path (the error wraps
// ErrNoCgroupLimit), for frequency <= 0, a nil policyCtor, or a policyCtor
// error. Callers then fall back to SystemDriven.
func CgroupDriven(frequency time.Duration, policyCtor PolicyCtor) (err error, stopFn func()) {
	return cgroupDriven(currentConfig(), frequency, policyCtor)
}

func cgroupDriven(cfg config, frequency time.Duration, policyCtor PolicyCtor) (error, func()) {
	frequency, err := checkFrequency(frequency)
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
	return startPolled(cfg, "cgroup", UtilizationProcess, r, policyCtor, limit, frequency, true)
}
