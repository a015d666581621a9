//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	cgroupRoot   = "/sys/fs/cgroup"
	memoryV1Root = cgroupRoot + "/memory"
	mib          = 1 << 20
)

// versionRoot is the directory of the root memory cgroup for a version.
func versionRoot(version int) string {
	if version == 1 {
		return memoryV1Root
	}
	return cgroupRoot
}

func writeFile(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, path, err)
	}
	return nil
}

func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// makeCgroup creates the memory cgroup dir (relative to the version's root)
// and, when limit > 0, caps its memory at limit bytes with swap disabled
// (v2: memory.max and memory.swap.max; v1: memory.limit_in_bytes and, when
// the kernel accounts swap, memory.memsw.limit_in_bytes). With children, v2
// also delegates the memory controller to them.
func makeCgroup(version int, rel string, limit uint64, children bool) (string, error) {
	dir := filepath.Join(versionRoot(version), rel)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	v := strconv.FormatUint(limit, 10)
	switch {
	case limit == 0:
	case version == 2:
		if err := writeFile(dir+"/memory.max", v); err != nil {
			return "", err
		}
		if exists(dir + "/memory.swap.max") {
			if err := writeFile(dir+"/memory.swap.max", "0"); err != nil {
				return "", err
			}
		}
	default:
		if err := writeFile(dir+"/memory.limit_in_bytes", v); err != nil {
			return "", err
		}
		if exists(dir + "/memory.memsw.limit_in_bytes") {
			if err := writeFile(dir+"/memory.memsw.limit_in_bytes", v); err != nil {
				return "", err
			}
		}
	}
	if children && version == 2 {
		if err := writeFile(dir+"/cgroup.subtree_control", "+memory"); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// joinCgroup moves the calling process (all its threads) into dir.
func joinCgroup(dir string) error {
	return writeFile(filepath.Join(dir, "cgroup.procs"), "0")
}

// keyedFile parses a flat keyed file such as memory.stat or memory.events.
func keyedFile(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
				m[k] = n
			}
		}
	}
	return m, sc.Err()
}

// oomKills returns how many processes the OOM killer killed in the cgroup
// dir: oom_kill of memory.events (v2) or of memory.oom_control (v1).
func oomKills(version int, dir string) (uint64, error) {
	file := "memory.events"
	if version == 1 {
		file = "memory.oom_control"
	}
	m, err := keyedFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	n, ok := m["oom_kill"]
	if !ok {
		return 0, fmt.Errorf("%s/%s has no oom_kill", dir, file)
	}
	return n, nil
}

// usage returns the current and the peak usage of the cgroup dir in bytes;
// the peak is 0 when the kernel does not track it.
func usage(version int, dir string) (cur, peak uint64, err error) {
	curFile, peakFile := "memory.current", "memory.peak"
	if version == 1 {
		curFile, peakFile = "memory.usage_in_bytes", "memory.max_usage_in_bytes"
	}
	s, err := readTrim(filepath.Join(dir, curFile))
	if err != nil {
		return 0, 0, err
	}
	if cur, err = strconv.ParseUint(s, 10, 64); err != nil {
		return 0, 0, err
	}
	if s, err := readTrim(filepath.Join(dir, peakFile)); err == nil {
		peak, _ = strconv.ParseUint(s, 10, 64)
	}
	return cur, peak, nil
}

// memStat returns memory.stat of the cgroup dir. On v1 the hierarchical
// total_* counters replace the local ones, so keys match v2's names.
func memStat(version int, dir string) (map[string]uint64, error) {
	m, err := keyedFile(filepath.Join(dir, "memory.stat"))
	if err != nil || version == 2 {
		return m, err
	}
	out := map[string]uint64{}
	for k, v := range m {
		if name, ok := strings.CutPrefix(k, "total_"); ok {
			out[name] = v
		} else if _, dup := out[k]; !dup {
			out[k] = v
		}
	}
	out["file"] = out["cache"]
	return out, nil
}
