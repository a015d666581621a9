//go:build linux

package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// mount is one cgroup or cgroup2 line of /proc/<pid>/mountinfo.
type mount struct {
	root      string   // 4th field: the cgroup path mounted at point
	point     string   // 5th field: the mount point, unescaped
	fstype    string   // "cgroup" or "cgroup2"
	superOpts []string // last field, split at commas
}

// location is where Open found the memory cgroup.
type location struct {
	version int
	dir     string // the cgroup directory in use
	top     string // the mount point: Limit walks from dir up to here
}

// discover finds the memory cgroup of the process cfg names.
func discover(cfg Config) (location, error) {
	procRoot := cfg.ProcRoot
	if procRoot == "" {
		procRoot = "/proc"
	}
	procDir := filepath.Join(procRoot, "self")
	if cfg.PID != 0 {
		procDir = filepath.Join(procRoot, strconv.Itoa(cfg.PID))
	}
	cgroupFile := filepath.Join(procDir, "cgroup")
	mountinfoFile := filepath.Join(procDir, "mountinfo")

	// v1 controllers by name ("cpu,memory" gives two), and the cgroup2
	// "0::/path" entry apart. The errors name the file.
	v1paths, v2path, err := parseProcCgroup(cgroupFile)
	if err != nil {
		return location{}, fmt.Errorf("cgroups: %w", err)
	}
	mounts, err := parseMountinfo(mountinfoFile)
	if err != nil {
		return location{}, err
	}

	// Hybrid hosts have both; the memory controller lives in the v1
	// hierarchy when one is mounted.
	if p, ok := v1paths["memory"]; ok {
		if m, ok := pickMount(mounts, p, func(m mount) bool {
			return m.fstype == "cgroup" && slices.Contains(m.superOpts, "memory")
		}); ok {
			return translate(cfg.FSRoot, 1, p, m), nil
		}
	}
	var why []string
	if v2path != "" {
		m, ok := pickMount(mounts, v2path, func(m mount) bool {
			if m.fstype != "cgroup2" {
				return false
			}
			file := filepath.Join(cfg.FSRoot, m.point, "cgroup.controllers")
			b, err := os.ReadFile(file)
			if err != nil {
				why = append(why, err.Error())
				return false
			}
			if !slices.Contains(strings.Fields(string(b)), "memory") {
				why = append(why, file+" does not list memory")
				return false
			}
			return true
		})
		if ok {
			return translate(cfg.FSRoot, 2, v2path, m), nil
		}
	}
	msg := fmt.Sprintf("%s has no memory line and %s no cgroup v1 memory mount", cgroupFile, mountinfoFile)
	if _, ok := v1paths["memory"]; ok {
		msg = fmt.Sprintf("%s has a memory line but %s has no cgroup v1 mount with the memory option", cgroupFile, mountinfoFile)
	}
	if v2path == "" {
		msg += "; no cgroup2 (0::) line"
	} else {
		msg += "; no cgroup2 mount offers the memory controller"
	}
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return location{}, fmt.Errorf("%w: %s", ErrNoMemoryCgroup, msg)
}

// pickMount returns the mount accepted by ok whose root contains cgPath
// (the longest such root), or else the first accepted mount.
func pickMount(mounts []mount, cgPath string, ok func(mount) bool) (mount, bool) {
	var first, best mount
	var haveFirst, haveBest bool
	for _, m := range mounts {
		if !ok(m) {
			continue
		}
		if !haveFirst {
			first, haveFirst = m, true
		}
		if _, under := relativeTo(cgPath, m.root); under && (!haveBest || len(m.root) > len(best.root)) {
			best, haveBest = m, true
		}
	}
	if haveBest {
		return best, true
	}
	return first, haveFirst
}

// translate maps the cgroup path of the process onto the mount: the
// directory is FSRoot + mount point + (cgPath relative to the mount root).
// When cgPath is not under the mount root, or the translated directory does
// not exist, the mount point itself is used: it is the root this process can
// see. That covers PID 1 in a container, whose cgroup is the root of its
// cgroup namespace or of the cgroup mount it was given. Unlike v1.3.0, PID 1
// is not sent to the root when its own cgroup is visible (a container that
// shares the host's cgroup namespace), since the root there is the host's.
func translate(fsRoot string, version int, cgPath string, m mount) location {
	top := filepath.Join(fsRoot, m.point)
	loc := location{version: version, dir: top, top: top}
	rel, ok := relativeTo(cgPath, m.root)
	if !ok {
		return loc
	}
	dir := filepath.Join(top, rel)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		loc.dir = dir
	}
	return loc
}

// relativeTo returns p relative to root ("" when equal) if p is root or
// below it.
func relativeTo(p, root string) (string, bool) {
	if dotDotFirst(p) {
		// "/.." leads a path that lies outside the cgroup namespace's root;
		// filepath.Clean would silently drop it.
		return "", false
	}
	p, root = filepath.Clean(p), filepath.Clean(root)
	if root == "/" {
		return strings.TrimPrefix(p, "/"), strings.HasPrefix(p, "/")
	}
	if p == root {
		return "", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return rest, true
	}
	return "", false
}

// dotDotFirst reports whether an absolute path starts with "/..".
func dotDotFirst(p string) bool {
	return p == "/.." || strings.HasPrefix(p, "/../")
}

// parseMountinfo returns the cgroup and cgroup2 mounts listed in a
// mountinfo file (see proc(5)).
func parseMountinfo(path string) ([]mount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	var mounts []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20) // lines up to 1 MiB; the buffer starts small and grows
	for n := 1; sc.Scan(); n++ {
		// Fields are separated by single spaces; the kernel escapes spaces,
		// tabs, newlines and backslashes inside them as \ooo.
		fields := strings.Split(strings.TrimRight(sc.Text(), " "), " ")
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 {
			return nil, fmt.Errorf("cgroups: %s line %d: %q does not have the mountinfo layout (6+ fields, \"-\", type, source, options)", path, n, sc.Text())
		}
		fstype := fields[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		mounts = append(mounts, mount{
			root:      unescapeOctal(fields[3]),
			point:     unescapeOctal(fields[4]),
			fstype:    fstype,
			superOpts: strings.Split(fields[sep+3], ","),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroups: reading %s: %w", path, err)
	}
	return mounts, nil
}

// unescapeOctal undoes the kernel's \ooo escaping of white space and
// backslashes in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
