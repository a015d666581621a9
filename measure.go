package watchdog

import (
	"errors"
	"fmt"
	"time"
)

// measure returns the usage the policy sees: raw usage less what the kernel
// reclaims before it kills anything (the clean file cache, and the freed
// parts of huge pages awaiting a split). That figure costs a stat
// file parse, so it is re-read only when exact is set, when raw usage is
// near the threshold, when it is older than reclaimRefresh, or, while the
// soft limit is managed, older than softLimitRefresh: the soft limit is set
// from it, and the huge-page part moves as fast as the heap allocates.
func (r *run) measure(exact bool) (uint64, error) {
	raw, err := r.read(r.src.Usage)
	if err != nil {
		return 0, err
	}
	r.readOK()
	now := Clock.Now()
	near := r.threshold != PolicyTempDisabled && raw >= r.threshold-r.threshold/10
	age := now.Sub(r.reclaimAt)
	if exact || near || age >= reclaimRefresh || (r.softLimit && age >= softLimitRefresh) {
		rec, err := r.read(r.src.Reclaimable)
		switch {
		case err != nil:
			if !r.reclaimErr {
				r.log(levelWarn, "reading the reclaimable cache from %s: %v; counting it as used until it reads again", r.srcName, err)
			}
			r.reclaimErr, rec = true, 0
		case r.reclaimErr:
			r.log(levelInfo, "reading the reclaimable cache from %s works again", r.srcName)
			r.reclaimErr = false
		}
		r.reclaimable, r.reclaimAt = rec, now
	}
	if r.reclaimable >= raw {
		return 0, nil
	}
	return raw - r.reclaimable, nil
}

// read calls a source method, turning a panic into an error.
func (r *run) read(f func() (uint64, error)) (v uint64, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = 0, fmt.Errorf("%s panicked: %v", r.srcName, p)
		}
	}()
	return f()
}

// evaluate asks the policy for the next threshold and re-arms the usage
// event. A policy that panics or does not answer within callbackBudget
// leaves the threshold as it was, with a warning once per streak; it
// reports whether the policy answered.
func (r *run) evaluate(used uint64) bool {
	if r.exec.busy() {
		return false // a forced GC or a policy outlived its budget: no new call until it returns
	}
	next, err := r.ask(used)
	if err != nil {
		if errors.Is(err, errStopped) {
			r.policyErr = err
			return false // stopping: nothing to warn about
		}
		if r.policyErr == nil {
			r.log(levelWarn, "evaluating %s usage %s: %v; keeping the threshold %s",
				r.scope, fmtSize(used), err, fmtThreshold(r.threshold))
		}
		r.policyErr = err
		return false
	}
	r.policyErr = nil
	if next != r.threshold {
		r.log(levelDebug, "%s usage %s of limit %s: next GC at %s", r.scope, fmtSize(used), fmtSize(r.limit), fmtThreshold(next))
	}
	r.threshold = next
	r.arm(next)
	return true
}

// ask runs the policy for used within callbackBudget, and returns its
// threshold without acting on it. On an error the policy may still be
// running: its answer is not read.
func (r *run) ask(used uint64) (uint64, error) {
	var next uint64
	p, scope := r.policy, r.scope
	if err := r.exec.call("the policy", func() { next = p.Evaluate(scope, used) }, r.closing); err != nil {
		return 0, err
	}
	return next, nil
}

// arm moves the kernel usage event to the threshold (0 removes it when the
// policy is disabled). Arming costs syscalls, so only a change re-arms. A
// failure leaves the watchdog polling only.
func (r *run) arm(threshold uint64) {
	if threshold == PolicyTempDisabled {
		threshold = 0
	}
	if r.notifier == nil || threshold == r.armedAt {
		return
	}
	if err := r.notifier.Arm(threshold); err != nil {
		r.log(levelWarn, "arming a usage event at %s on %s: %v; polling only", fmtSize(threshold), r.srcName, err)
		r.notifier = nil
		return
	}
	r.armedAt = threshold
}

// trackRate keeps a growth rate estimate (bytes per second) that follows a
// burst at once and halves per sample when growth stops, down to zero.
func (r *run) trackRate(used uint64, now time.Time) {
	if !r.lastAt.IsZero() {
		if dt := now.Sub(r.lastAt).Seconds(); dt > 0 {
			inst := (float64(used) - float64(r.lastUsage)) / dt
			r.rate = max(inst, r.rate/2)
			if r.rate < 1 { // under a byte per second: not growing
				r.rate = 0
			}
		}
	}
	r.lastUsage, r.lastAt = used, now
}

func (r *run) readFailed(err error) {
	if !r.sourceErr {
		r.log(levelWarn, "reading usage from %s: %v; will retry at every sample", r.srcName, err)
	}
	r.sourceErr = true
	r.count(func(s *Stats) { s.ReadErrors++ })
}

func (r *run) readOK() {
	if r.sourceErr {
		r.log(levelInfo, "reading usage from %s works again", r.srcName)
		r.sourceErr = false
	}
}

func fmtThreshold(t uint64) string {
	if t == PolicyTempDisabled {
		return "never (policy disabled until the next GC)"
	}
	return fmtSize(t)
}
