//go:build !linux

package watchdog_test

// v1.3.0's cgroup tests are Linux-only.
var isolatedCgroupTests []isolatedTest
