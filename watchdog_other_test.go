//go:build !linux

package watchdog

import (
	"errors"
	"testing"
	"time"
)

func TestCgroupDrivenNotSupported(t *testing.T) {
	err, stop := CgroupDriven(time.Second, NewWatermarkPolicy(0.5))
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("CgroupDriven error %v does not wrap ErrNotSupported", err)
	}
	if stop != nil {
		t.Fatal("CgroupDriven returned a stop function although nothing started")
	}
}
