//go:build linux

package source

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// maxKB is the largest meminfo value in kB whose byte count fits a uint64.
const maxKB = (1<<64 - 1) / 1024

func FuzzMeminfo(f *testing.F) {
	fixtures, _ := filepath.Glob("testdata/meminfo/*")
	for _, p := range fixtures {
		b, _ := os.ReadFile(p)
		f.Add(b, uint64(24684092), uint64(24265356), "MemFree: 1 kB\nSwapTotal: 0 kB")
	}
	f.Add([]byte("MemTotal: 100 kB\r\nMemAvailable: 200 kB \r\n"), uint64(0), uint64(0), "")
	f.Add([]byte("MemTotal:\t1 kB\nMemAvailable: 1kB\nMemTotal: 2 kB"), uint64(maxKB), uint64(1), "MemTotal\nCached:x")
	f.Add([]byte("MemFree: 1 kB\nMemTotal: 18014398509481984 kB\nBuffers: 2 kB\nCached: 3 kB\n"), uint64(maxKB+6), uint64(maxKB), ":\n\n")
	f.Add([]byte("MemTotal: 0 kB\n"), uint64(1<<54), uint64(1), "") // 2^54 kB once wrapped to 0 bytes
	file := filepath.Join(f.TempDir(), "meminfo")
	f.Fuzz(func(t *testing.T, data []byte, total, avail uint64, junk string) {
		// Any input: never panics; the file-backed source agrees with
		// parseMeminfo and never reports a usage above its limit.
		pt, pa, perr := parseMeminfo("meminfo", data)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		whole := len(data) < len(meminfoSystem{}.buf) // else the source reads a prefix
		m, err := openMeminfo(file)
		if whole && (err == nil) != (perr == nil) {
			t.Fatalf("openMeminfo: %v; parseMeminfo: %v", err, perr)
		}
		if err == nil {
			limit, lerr := m.Limit()
			usage, uerr := m.Usage()
			m.Close()
			if lerr != nil || uerr != nil || usage > limit {
				t.Fatalf("%q: Limit = %d, %v; Usage = %d, %v", data, limit, lerr, usage, uerr)
			}
			if whole && (limit != pt || usage != pt-min(pa, pt)) {
				t.Fatalf("%q: Limit = %d, Usage = %d; parseMeminfo = %d, %d", data, limit, usage, pt, pa)
			}
		}
		// Well-formed: MemTotal, unrelated lines, MemAvailable.
		var doc strings.Builder
		fmt.Fprintf(&doc, "MemTotal:       %d kB\n", total)
		for _, l := range strings.Split(junk, "\n") {
			if key, _, _ := strings.Cut(l, ":"); !slices.Contains([]string{"MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached"}, key) {
				doc.WriteString(l + "\n")
			}
		}
		fmt.Fprintf(&doc, "MemAvailable: %d kB\n", avail)
		gt, ga, err := parseMeminfo("meminfo", []byte(doc.String()))
		switch {
		case total <= maxKB && avail <= maxKB:
			if err != nil || gt != total*1024 || ga != avail*1024 {
				t.Fatalf("parseMeminfo(%q) = %d, %d, %v; want %d, %d", doc.String(), gt, ga, err, total*1024, avail*1024)
			}
		case err == nil:
			t.Fatalf("parseMeminfo(%q) = %d, %d; want an overflow error", doc.String(), gt, ga)
		}
	})
}
