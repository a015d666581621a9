package watchdog

import (
	"fmt"
	"math"
)

// PolicyTempDisabled is the value a Policy returns to say "do not force a GC
// at any usage for now". The watchdog asks the policy again after the next GC.
// A policy returns it when forcing more GCs cannot help, for instance past its
// last watermark.
const PolicyTempDisabled uint64 = math.MaxUint64

// UtilizationType says which memory a policy is asked about.
type UtilizationType int

const (
	// UtilizationSystem: used system memory (SystemDriven), excluding
	// reclaimable buffers and page cache.
	UtilizationSystem UtilizationType = iota
	// UtilizationProcess: the usage of the process's memory cgroup
	// (CgroupDriven), less its file cache.
	UtilizationProcess
	// UtilizationHeap: the Go heap in use (HeapDriven).
	UtilizationHeap
)

// scopeName names a UtilizationType in log lines: "system", "process" or
// "heap". UtilizationType has no String method, so %v prints its number, as
// in v1.3.0.
func scopeName(u UtilizationType) string {
	switch u {
	case UtilizationSystem:
		return "system"
	case UtilizationProcess:
		return "process"
	case UtilizationHeap:
		return "heap"
	}
	return fmt.Sprintf("UtilizationType(%d)", int(u))
}

// Policy decides when the watchdog forces the next GC.
type Policy interface {
	// Evaluate receives the usage in bytes measured right after a GC (and,
	// in the polled modes, at start) and returns the usage in bytes at which
	// the next GC must run, or PolicyTempDisabled. The watchdog calls it
	// once per GC, from one goroutine at a time.
	Evaluate(scope UtilizationType, used uint64) (next uint64)
}

// PolicyCtor builds a Policy for a limit in bytes. The watchdog calls it at
// start and again when the limit it watches changes.
type PolicyCtor func(limit uint64) (Policy, error)

// PolicyFunc adapts an ordinary function to the Policy interface.
type PolicyFunc func(scope UtilizationType, used uint64) (next uint64)

// Evaluate calls f(scope, used).
func (f PolicyFunc) Evaluate(scope UtilizationType, used uint64) (next uint64) {
	return f(scope, used)
}

// checkLimit rejects the limits no policy can work with.
func checkLimit(limit uint64) error {
	if limit == 0 {
		return fmt.Errorf("watchdog: limit is 0 bytes; a policy needs a positive limit")
	}
	return nil
}

// policyDesc formats as describePolicy(p), lazily: a policy's String
// method is the program's code, so it runs with the log line, on the
// executor.
type policyDesc struct{ p Policy }

func (d policyDesc) String() string { return describePolicy(d.p) }

// describePolicy names a policy for the start line: its watermarks or
// factor and thresholds for the policies of this package, its String method
// or its type otherwise.
func describePolicy(p Policy) string {
	switch d := p.(type) {
	case interface{ describe() string }:
		return d.describe()
	case fmt.Stringer:
		return "policy " + d.String()
	}
	return fmt.Sprintf("policy %T", p)
}
