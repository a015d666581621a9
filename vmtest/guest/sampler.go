//go:build linux

package main

import (
	"fmt"
	"runtime/metrics"
	"time"
)

// sampler records the highest cgroup usage seen while a workload runs and
// what the Go runtime owned (mapped minus released to the OS) at that
// moment, so a failure shows whether the Go heap or memory outside it
// filled the cap.
type sampler struct {
	stop, done             chan struct{}
	peak, goOwned, goLimit uint64
}

// startSampler starts sampling; limit is the cgroup's memory limit, near
// which every new peak is reported at once.
func startSampler(e *env, limit uint64) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/gomemlimit:bytes"},
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			cur, _, err := usage(e.version, e.dir)
			if err != nil || cur <= s.peak {
				continue
			}
			metrics.Read(samples)
			// Near the cap, report each new peak at once: an OOM kill
			// would lose the final report.
			loud := cur > limit/10*9 && cur >= s.peak+mib/4
			s.peak = cur
			s.goOwned = samples[0].Value.Uint64() - samples[1].Value.Uint64()
			s.goLimit = samples[2].Value.Uint64()
			if loud {
				s.report(e)
			}
		}
	}()
	return s
}

// finish stops sampling and reports the peak sample.
func (s *sampler) finish(e *env) {
	close(s.stop)
	<-s.done
	s.report(e)
}

func (s *sampler) report(e *env) {
	e.report("sampled_peak_mib", fmt.Sprintf("%.1f", float64(s.peak)/mib))
	e.report("go_owned_at_peak_mib", fmt.Sprintf("%.1f", float64(s.goOwned)/mib))
	e.report("gomemlimit_at_peak_mib", fmt.Sprintf("%.1f", float64(s.goLimit)/mib))
}
