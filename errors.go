package watchdog

import "github.com/raulk/go-watchdog/internal/cgroups"

// ErrNoCgroupLimit is wrapped by the error CgroupDriven returns when no memory
// limit is set on the process's cgroup or any ancestor it can see (cgroup v1's
// page-counter maximum, v2's "max"). Fall back to SystemDriven then.
var ErrNoCgroupLimit = cgroups.ErrNoLimit
