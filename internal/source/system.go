package source

// NewSystem returns a Source for the whole machine, for processes that run
// outside any memory-limited cgroup. Limit is the total physical memory in
// bytes. Usage is the memory in use in bytes, not counting what the kernel
// can reclaim (buffers and page cache): on Linux MemTotal minus MemAvailable
// from /proc/meminfo, read with one pread(2) on a file kept open and without
// allocating; elsewhere gosigar's ActualUsed. Reclaimable always returns 0,
// since Usage already excludes that memory. String returns "system". The
// Source has no Notifier.
func NewSystem() (Source, error) {
	return newSystem()
}
