//go:build !linux

package watchdog

// thpAlways: transparent huge pages are a Linux feature.
func thpAlways() bool { return false }
