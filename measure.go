package watchdog

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// maxPlausible is the largest usage a source may report, in bytes (1 EiB).
// A larger figure is a broken reading, not memory: it is treated as a failed
// read, so that it cannot push the threshold, the soft limit or the pressure
// level anywhere.
const maxPlausible = 1 << 60

// measure sets r.usage to the usage the policy sees: raw usage less what the
// kernel reclaims before it kills anything (the file cache, and the freed
// parts of huge pages awaiting a split), or what the Go runtime holds (st's
// Owned) when that is more. The reclaimable figure costs a stat file parse,
// so it is re-read only when exact is set, when raw usage is near the
// threshold, when it is older than reclaimRefresh, or, while the soft limit
// is managed and usage is within a quarter of the limit, older than
// softLimitRefresh. It does not allocate.
//
// The runtime's own memory is a floor because a cgroup charges a page to
// the group of the process that first touched it: a process moved into its
// group after it allocated (a test harness, a service manager) has part of
// its heap charged elsewhere, and its group's usage would understate what a
// GC can free. In a 32 MiB group entered at start, 16 MiB of new heap raised
// the group's usage, less file cache, by 15.3 MiB.
func (r *run) measure(exact bool, st runtimeStats) error {
	raw, err := r.readUsage()
	if err != nil {
		return err
	}
	r.readOK()
	now := Clock.Now()
	near := r.threshold != PolicyTempDisabled && raw >= r.threshold-r.threshold/10
	age := now.Sub(r.reclaimAt)
	nearLimit := r.softLimit && r.limit != 0 && raw >= r.limit-r.limit/4
	if exact || near || age >= reclaimRefresh || (nearLimit && age >= softLimitRefresh) {
		rec, err := r.readReclaimable()
		switch {
		case err != nil:
			if !r.reclaimErr {
				r.log(levelWarn, kindReadError, "reading the reclaimable cache from %s: %v; counting it as used until it reads again", r.srcName, err)
			}
			r.reclaimErr, rec = true, 0
		case r.reclaimErr:
			r.log(levelInfo, kindReadError, "reading the reclaimable cache from %s works again", r.srcName)
			r.reclaimErr = false
		}
		r.reclaimable, r.reclaimAt = rec, now
	}
	r.usage = max(sub(raw, r.reclaimable), st.Owned)
	return nil
}

// readUsage reads the source's usage, turning a panic or an implausible
// figure into an error.
func (r *run) readUsage() (v uint64, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = 0, fmt.Errorf("%s panicked: %v", r.srcName, p)
		}
	}()
	if v, err = r.src.Usage(); err == nil && v > maxPlausible {
		return 0, fmt.Errorf("%s reported a usage of %d bytes, more than 1 EiB: not a real figure", r.srcName, v)
	}
	return v, err
}

// readReclaimable reads the source's reclaimable memory, turning a panic
// into an error.
func (r *run) readReclaimable() (v uint64, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = 0, fmt.Errorf("%s panicked: %v", r.srcName, p)
		}
	}()
	return r.src.Reclaimable()
}

// evaluate asks the policy for the next threshold at r.usage and re-arms
// the usage event; gcs is the count of completed GC cycles the answer
// accounts for. A policy that panics or does not answer within
// callbackBudget leaves the threshold as it was, with a warning once per
// streak; it reports whether the policy answered. While the run has no
// limit there is no policy to ask.
func (r *run) evaluate(gcs uint64) bool {
	r.evalGCs = gcs
	if r.limit == 0 {
		return true
	}
	if r.exec.busy() {
		return false // a forced GC or a policy outlived its budget: no new call until it returns
	}
	next, err := r.ask(r.usage)
	if err != nil {
		if errors.Is(err, errStopped) {
			r.policyErr = err
			return false // stopping: nothing to warn about
		}
		if r.policyErr == nil {
			r.log(levelWarn, kindPolicyError, "evaluating %s usage %s: %v; keeping the threshold %s",
				scopeName(r.scope), fmtSize(r.usage), err, fmtThreshold(r.threshold))
		}
		r.policyErr = err
		return false
	}
	if r.policyErr != nil {
		r.log(levelInfo, kindPolicyError, "the policy answers again: next GC at %s", fmtThreshold(next))
	}
	r.policyErr = nil
	if next != r.threshold {
		r.log(levelDebug, kindThreshold, "%s usage %s of limit %s: next GC at %s", scopeName(r.scope), fmtSize(r.usage), fmtSize(r.limit), fmtThreshold(next))
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
		r.log(levelWarn, kindReadError, "arming a usage event at %s on %s: %v; polling only", fmtSize(threshold), r.srcName, err)
		r.notifier = nil
		return
	}
	r.armedAt = threshold
}

// trackRate keeps a growth rate estimate of r.usage (bytes per second) that
// follows a burst at once and halves per sample when growth stops, down to
// zero.
func (r *run) trackRate(now time.Time) {
	used := r.usage
	if !r.lastAt.IsZero() {
		if dt := now.Sub(r.lastAt).Seconds(); dt > 0 {
			inst := (float64(used) - float64(r.lastRated)) / dt
			r.rate = max(inst, r.rate/2)
			if r.rate < 1 || math.IsInf(r.rate, 0) || math.IsNaN(r.rate) {
				r.rate = 0
			}
		}
	}
	r.lastRated, r.lastAt = used, now
}

func (r *run) readFailed(err error) {
	if !r.sourceErr {
		r.log(levelWarn, kindReadError, "reading usage from %s: %v; will retry at every sample", r.srcName, err)
	}
	r.sourceErr = true
	r.count(func(s *Stats) { s.ReadErrors++ })
}

func (r *run) readOK() {
	if r.sourceErr {
		r.log(levelInfo, kindReadError, "reading usage from %s works again", r.srcName)
		r.sourceErr = false
	}
}

// sub is a-b, or 0 when b > a.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// add is a+b, or math.MaxUint64 when that overflows.
func add(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func fmtThreshold(t uint64) string {
	if t == PolicyTempDisabled {
		return "never (policy disabled until the next GC)"
	}
	return fmtSize(t)
}
