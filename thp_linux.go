package watchdog

import (
	"bytes"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// thpAlways reports whether transparent huge pages are in the "always"
// mode and neither the process (prctl PR_SET_THP_DISABLE) nor the runtime
// (GODEBUG=disablethp=1) opted out.
func thpAlways() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return false
	}
	off, err := unix.PrctlRetInt(unix.PR_GET_THP_DISABLE, 0, 0, 0, 0)
	return thpOn(b, err == nil && off != 0, os.Getenv("GODEBUG"))
}

// thpOn decides from the sysfs mode line (e.g. "[always] madvise never"),
// the process's opt-out and GODEBUG.
func thpOn(mode []byte, processOff bool, godebug string) bool {
	if !bytes.Contains(mode, []byte("[always]")) || processOff {
		return false
	}
	for _, kv := range strings.Split(godebug, ",") {
		if strings.TrimSpace(kv) == "disablethp=1" {
			return false
		}
	}
	return true
}
