// Package cgroups reads the memory usage and the effective memory limit of
// this process's cgroup, on cgroup v1 and v2, and wakes the watchdog when the
// kernel reports a threshold crossing or memory pressure.
//
// Only Linux has cgroups. On other systems the package builds, but Open
// returns an error wrapping errors.ErrUnsupported.
package cgroups

import "errors"

// ErrNoLimit is returned (wrapped) by (*Reader).Limit when neither the
// cgroup in use nor any ancestor up to the cgroup mount point has a memory
// limit. The wrapping error names the files that were checked.
var ErrNoLimit = errors.New("no cgroup memory limit")

// ErrNoMemoryCgroup is returned (wrapped) by Open when the process is in no
// cgroup with the memory controller: no cgroup v1 memory hierarchy is
// mounted, and no cgroup2 mount lists "memory" in its cgroup.controllers.
var ErrNoMemoryCgroup = errors.New("no memory cgroup found")

// Config says where Open looks for the process's memory cgroup. The zero
// value means the real host: ProcRoot "/proc", FSRoot "" and this process.
// The Reader keeps it to look again when the process may have moved (see
// Reader).
type Config struct {
	// ProcRoot is the proc file system root; "" means "/proc". Open reads
	// <ProcRoot>/<pid>/cgroup and <ProcRoot>/<pid>/mountinfo.
	ProcRoot string

	// FSRoot is prepended to every mount point read from mountinfo, so a
	// fixture tree can stand in for the real file system; "" means none.
	FSRoot string

	// PID is the process whose cgroup is read; 0 means this process, read
	// through <ProcRoot>/self.
	PID int
}
