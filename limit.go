package watchdog

import (
	"errors"
	"fmt"
)

// refreshLimit re-reads the limit and follows it: a changed limit (a resize,
// a move to another cgroup) takes effect at once; a removed one (no limit
// anywhere on the path any more) leaves the run idle until a limit returns;
// an unreadable one keeps the last limit, with one warning per streak.
func (r *run) refreshLimit() {
	limit, err := r.readLimit()
	if name := r.src.String(); name != r.srcName {
		r.log(levelInfo, kindLimit, "the process moved: reading %s instead of %s", name, r.srcName)
		r.srcName = name
		r.count(func(s *Stats) { s.Source = name })
		if err == nil && limit == r.limit {
			r.emit(Event{Kind: EventLimitChanged, OldLimit: r.limit})
		}
	}
	switch {
	case errors.Is(err, ErrNoCgroupLimit):
		r.limitOK()
		if r.limit != 0 {
			r.log(levelWarn, kindLimit, "%s has no memory limit any more (was %s): the watchdog forces no GC and leaves the soft memory limit to the program until a limit is set again",
				r.srcName, fmtSize(r.limit))
			r.setLimitTo(0)
		}
		return
	case err != nil:
		if !r.limitErr {
			r.log(levelWarn, kindLimit, "re-reading the limit of %s: %v; keeping %s until it reads again", r.srcName, err, fmtLimit(r.limit))
		}
		r.limitErr = true
		return
	}
	r.limitOK()
	// A limit of 0 bytes (cgroup v2 memory.max 0) leaves no room at all;
	// it is followed as the smallest limit there is.
	limit = max(limit, 1)
	if limit != r.limit {
		r.log(levelInfo, kindLimit, "limit of %s changed from %s to %s", r.srcName, fmtLimit(r.limit), fmtSize(limit))
		r.setLimitTo(limit)
	}
}

// readLimit calls the source's Limit, turning a panic into an error.
func (r *run) readLimit() (v uint64, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = 0, fmt.Errorf("%s panicked: %v", r.srcName, p)
		}
	}()
	return r.src.Limit()
}

func (r *run) limitOK() {
	if r.limitErr {
		r.log(levelInfo, kindLimit, "the limit of %s reads again", r.srcName)
		r.limitErr = false
	}
}

// setLimitTo makes limit (0: none) the run's limit at once: the soft limit's
// reserve starts afresh from it, the policy is rebuilt for it (when the
// constructor rejects it, the old policy stays, with one warning per
// rejected limit) and asked again. The soft limit follows in the same
// sample.
func (r *run) setLimitTo(limit uint64) {
	old := r.limit
	r.limit = limit
	r.hold, r.trend = reserveHold{}, outsideTrend{}
	r.stuck, r.crossed = 0, 0
	r.emit(Event{Kind: EventLimitChanged, OldLimit: old})
	if limit == 0 {
		r.threshold = PolicyTempDisabled
		r.arm(PolicyTempDisabled)
		return
	}
	if limit != r.policyLimit && limit != r.rejected {
		r.rebuildPolicy(limit)
	}
	r.evaluate(r.evalGCs)
}

func (r *run) rebuildPolicy(limit uint64) {
	var policy Policy
	var err error
	if r.exec.call("the policy constructor", func() { policy, err = buildPolicy(r.ctor, limit) }, r.closing) != nil {
		return // buildPolicy recovers panics; a constructor that blocks is tried at the next limit change
	}
	if err != nil {
		r.rejected = limit
		r.log(levelWarn, kindLimit, "keeping the policy built for %s: %v", fmtSize(r.policyLimit), err)
		return
	}
	r.log(levelInfo, kindLimit, "policy rebuilt for the limit %s: %v", fmtSize(limit), policyDesc{policy})
	r.policy, r.policyLimit, r.rejected = policy, limit, 0
}

// fmtLimit is fmtSize for a run's limit, where 0 means none.
func fmtLimit(limit uint64) string {
	if limit == 0 {
		return "none"
	}
	return fmtSize(limit)
}
