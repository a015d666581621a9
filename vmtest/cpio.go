// Package vmtest boots the watchdog in a real Linux kernel under QEMU and
// checks it against real cgroup v1 and v2 memory controllers.
//
// The heavy test lives in vm_test.go behind the "vmtest" build tag; this
// package holds the host-side helpers it uses: a newc cpio writer for the
// initramfs, kernel discovery and a QEMU runner that reads the guest's result
// lines from the serial console. The guest program (the VM's /init) is in
// the guest directory.
package vmtest

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// File mode type bits of the newc format (the same values as in stat(2)).
const (
	modeDir  = 0o040000
	modeReg  = 0o100000
	modeChar = 0o020000
)

// CPIOWriter writes a cpio archive in the "newc" (SVR4, no checksum) format,
// the one the Linux kernel accepts as an initramfs. Entries are written in
// the order they are added; parent directories must be added before the
// entries inside them, because the kernel does not create them itself.
type CPIOWriter struct {
	w      io.Writer
	ino    uint32
	err    error
	closed bool
}

// NewCPIOWriter returns a writer that appends entries to w.
func NewCPIOWriter(w io.Writer) *CPIOWriter {
	return &CPIOWriter{w: w, ino: 1}
}

// Dir adds a directory with the given permission bits.
func (c *CPIOWriter) Dir(name string, perm uint32) error {
	return c.entry(name, modeDir|perm&0o7777, 2, 0, 0, nil)
}

// File adds a regular file holding data, with the given permission bits.
func (c *CPIOWriter) File(name string, perm uint32, data []byte) error {
	return c.entry(name, modeReg|perm&0o7777, 1, 0, 0, data)
}

// CharDev adds a character device node, such as /dev/console (5, 1).
func (c *CPIOWriter) CharDev(name string, perm, major, minor uint32) error {
	return c.entry(name, modeChar|perm&0o7777, 1, major, minor, nil)
}

// Close writes the TRAILER!!! entry that ends the archive. It does not close
// the underlying writer.
func (c *CPIOWriter) Close() error {
	if c.closed {
		return c.err
	}
	c.closed = true
	c.ino = 0
	return c.write("TRAILER!!!", 0, 1, 0, 0, nil)
}

func (c *CPIOWriter) entry(name string, mode, nlink, rmajor, rminor uint32, data []byte) error {
	if c.closed {
		return fmt.Errorf("cpio: entry %q added after Close", name)
	}
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" {
		return fmt.Errorf("cpio: entry name %q names the archive root", name)
	}
	c.ino++
	return c.write(clean, mode, nlink, rmajor, rminor, data)
}

// write emits one header, the NUL-terminated name and the data, each padded
// to a multiple of four bytes as newc requires.
func (c *CPIOWriter) write(name string, mode, nlink, rmajor, rminor uint32, data []byte) error {
	if c.err != nil {
		return c.err
	}
	if uint64(len(data)) > 0xffffffff {
		c.err = fmt.Errorf("cpio: %q is larger than 4 GiB", name)
		return c.err
	}
	fields := []uint32{
		c.ino, mode, 0, 0, nlink, 0, // ino, mode, uid, gid, nlink, mtime
		uint32(len(data)), 0, 0, // filesize, devmajor, devminor
		rmajor, rminor, uint32(len(name) + 1), 0, // rdevmajor, rdevminor, namesize, check
	}
	var b strings.Builder
	b.WriteString("070701")
	for _, f := range fields {
		fmt.Fprintf(&b, "%08x", f)
	}
	b.WriteString(name)
	b.WriteByte(0)
	b.WriteString(pad(b.Len()))
	if _, c.err = io.WriteString(c.w, b.String()); c.err != nil {
		return c.err
	}
	if _, c.err = c.w.Write(data); c.err != nil {
		return c.err
	}
	_, c.err = io.WriteString(c.w, pad(len(data)))
	return c.err
}

// pad returns the NUL bytes that bring n up to a multiple of four.
func pad(n int) string {
	return strings.Repeat("\x00", (4-n%4)%4)
}
