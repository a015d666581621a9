//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// follow re-runs the discovery with the Config the Reader was opened with
// and, when the process's cgroup directory changed, moves the Reader there.
// It reports whether the Reader moved. A Reader from OpenDir never moves.
// It runs on the Reader's goroutine.
func (r *Reader) follow() (bool, error) {
	if r.cfg == nil {
		return false, nil
	}
	r.discoveries++
	loc, err := discover(*r.cfg)
	if err != nil {
		return false, err
	}
	if loc == r.cur.loc {
		return false, nil
	}
	if err := r.moveTo(loc); err != nil {
		return false, err
	}
	return true, nil
}

// retry decides, after a read failed with err, whether to read again: only
// for a failed read (not a malformed value, not a closed Reader), at most
// once per retryEvery, and only when re-discovery moved the Reader.
func (r *Reader) retry(err error) bool {
	var pe *fs.PathError
	if r.cfg == nil || !errors.As(err, &pe) || errors.Is(err, os.ErrClosed) {
		return false
	}
	now := r.now()
	if since := now.Sub(r.lastRetry); !r.lastRetry.IsZero() && since >= 0 && since < retryEvery {
		return false
	}
	r.lastRetry = now
	moved, _ := r.follow()
	return moved
}

// moveTo reopens the Reader on loc: it opens the new files, swaps them in,
// moves the event registrations and closes the old files. When Close has
// run meanwhile, the new files are closed instead and the error wraps
// os.ErrClosed.
func (r *Reader) moveTo(loc location) error {
	nf, err := openFiles(loc)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		nf.close()
		return fmt.Errorf("cgroups: moving to %s: %w", nf.name, os.ErrClosed)
	}
	old := r.cur
	r.cur = nf
	r.moveEvents(old)
	old.close() // the old directory may be gone: nothing to report
	return nil
}
