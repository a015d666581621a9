package vmtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kernel is a bootable kernel image and the release it belongs to.
type Kernel struct {
	Image   string // path to the bzImage, e.g. /boot/vmlinuz-6.1.0-56-amd64
	Release string // e.g. 6.1.0-56-amd64
}

// FindKernel returns the kernel to boot: the image named by $VMTEST_KERNEL
// when set, else the newest /boot/vmlinuz-* (by release string) whose
// modules directory exists under /lib/modules.
func FindKernel() (Kernel, error) {
	if img := os.Getenv("VMTEST_KERNEL"); img != "" {
		rel := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		return Kernel{Image: img, Release: rel}, nil
	}
	images, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Sort(sort.Reverse(sort.StringSlice(images)))
	for _, img := range images {
		rel := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		if st, err := os.Stat(filepath.Join("/lib/modules", rel)); err == nil && st.IsDir() {
			return Kernel{Image: img, Release: rel}, nil
		}
	}
	return Kernel{}, fmt.Errorf("no /boot/vmlinuz-* with a matching /lib/modules directory; run vmtest/setup.sh (found %v)", images)
}

// Module returns the path of an uncompressed kernel module of this release,
// given relative to its kernel/ directory, e.g. "drivers/block/brd.ko".
func (k Kernel) Module(rel string) (string, error) {
	p := filepath.Join("/lib/modules", k.Release, "kernel", rel)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kernel module for %s: %w", k.Release, err)
	}
	return p, nil
}

// BuildInitramfs returns an uncompressed newc initramfs holding the guest
// program as /init, a /dev/console node (so the kernel gives /init the
// serial console as its standard streams) and the given extra files, keyed
// by their absolute path in the guest. Parent directories are created.
func BuildInitramfs(initBinary []byte, extra map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	w := NewCPIOWriter(&buf)
	dirs := map[string]bool{}
	var mkdirs func(dir string) error
	mkdirs = func(dir string) error {
		if dir == "/" || dir == "." || dirs[dir] {
			return nil
		}
		if err := mkdirs(filepath.Dir(dir)); err != nil {
			return err
		}
		dirs[dir] = true
		return w.Dir(dir, 0o755)
	}
	for _, d := range []string{"/dev", "/proc", "/sys", "/tmp", "/lib"} {
		if err := mkdirs(d); err != nil {
			return nil, err
		}
	}
	if err := w.CharDev("/dev/console", 0o600, 5, 1); err != nil {
		return nil, err
	}
	if err := w.File("/init", 0o755, initBinary); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(extra))
	for name := range extra {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := mkdirs(filepath.Dir(name)); err != nil {
			return nil, err
		}
		if err := w.File(name, 0o644, extra[name]); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
