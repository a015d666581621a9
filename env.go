package watchdog

import (
	"fmt"

	"github.com/raulk/go-watchdog/internal/hook"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func init() { hook.StartFromEnv = startFromEnv }

// startFromEnv is what package auto does at init: Start with the Options
// from the environment. Every outcome is logged, and a Logger that is nil
// or panics cannot take the program down.
func startFromEnv() {
	opts, err := OptionsFromEnv()
	if err != nil {
		logNow(levelError, kindConfig, "no watchdog started: %v", err)
		return
	}
	_, _, _ = Start(opts) // Start logs its own failures and the GOWATCHDOG=off line
}

// envSwitch is the variable that turns Start off.
const envSwitch = "GOWATCHDOG"

// switchFromEnv reads GOWATCHDOG: true to start, false to start nothing.
func switchFromEnv() (bool, error) {
	v := os.Getenv(envSwitch)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "on", "true", "1", "yes", "enabled":
		return true, nil
	case "off", "false", "0", "no", "disabled":
		return false, nil
	}
	return false, fmt.Errorf("watchdog: %s=%q is neither on nor off; use off, false, 0, no or disabled to turn the watchdog off, and on, true, 1, yes, enabled or unset to run it", envSwitch, v)
}

// envVars are the variables OptionsFromEnv reads, each with how it sets
// Options. A parser returns an error that names neither variable nor value.
var envVars = map[string]func(o *Options, v string) error{
	"GOWATCHDOG_HEAP_LIMIT": func(o *Options, v string) (err error) {
		o.HeapLimit, err = ParseSize(v)
		return err
	},
	"GOWATCHDOG_SYSTEM_LIMIT": func(o *Options, v string) (err error) {
		o.SystemLimit, err = ParseSize(v)
		return err
	},
	"GOWATCHDOG_MIN_GOGC": func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("it must be a positive integer")
		}
		o.MinGOGC = n
		return nil
	},
	"GOWATCHDOG_FREQUENCY": func(o *Options, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("it must be a positive duration such as 500ms or 2s")
		}
		o.Frequency = d
		return nil
	},
	"GOWATCHDOG_POLICY": func(o *Options, v string) (err error) {
		o.Policy, err = ParsePolicy(v)
		return err
	},
	"GOWATCHDOG_SOFT_LIMIT": func(o *Options, v string) (err error) {
		o.DisableSoftLimit, err = parseOff(v)
		return err
	},
	"GOWATCHDOG_EVENTS": func(o *Options, v string) (err error) {
		o.DisableKernelEvents, err = parseOff(v)
		return err
	},
}

// parseOff reads an on/off switch: true for off.
func parseOff(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "1", "yes", "enabled":
		return false, nil
	case "off", "false", "0", "no", "disabled":
		return true, nil
	}
	return false, fmt.Errorf("it must be on or off")
}

// envErrors lists every problem OptionsFromEnv found, on one line.
type envErrors []error

func (e envErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return "watchdog: " + strings.Join(msgs, "; ")
}

func (e envErrors) Unwrap() []error { return e }

// OptionsFromEnv reads Options from the environment, so that an operator can
// configure Start without code (package
// github.com/raulk/go-watchdog/auto does so at init):
//
//	GOWATCHDOG_HEAP_LIMIT    HeapLimit, a size for ParseSize such as 2Gi; selects the heap driver
//	GOWATCHDOG_SYSTEM_LIMIT  SystemLimit, a size
//	GOWATCHDOG_MIN_GOGC      MinGOGC, a positive integer
//	GOWATCHDOG_FREQUENCY     Frequency, a positive duration such as 500ms
//	GOWATCHDOG_POLICY        Policy, for ParsePolicy: watermarks:0.5,0.9 or adaptive:0.5
//	GOWATCHDOG_SOFT_LIMIT    off sets DisableSoftLimit; on is the default
//	GOWATCHDOG_EVENTS        off sets DisableKernelEvents; on is the default
//
// Unset or empty variables leave their field zero, which Start reads as its
// default. GOWATCHDOG itself (off turns the watchdog off) is read by Start.
//
// Every malformed value, and every other variable whose name starts with
// GOWATCHDOG_ (a misspelling such as GOWATCHDOG_HEAPLIMIT), is reported in
// one error that names each variable, its value and the rule. The Options
// returned with an error hold the variables that did parse.
func OptionsFromEnv() (Options, error) {
	var opts Options
	var errs envErrors
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, known := envVars[name]; strings.HasPrefix(name, envSwitch+"_") && !known {
			errs = append(errs, fmt.Errorf("%s is not a known variable; known: %s", name, strings.Join(envNames(), ", ")))
		}
	}
	for _, name := range envNames() {
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			continue
		}
		if err := envVars[name](&opts, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
		}
	}
	if len(errs) > 0 {
		return opts, errs
	}
	return opts, nil
}

// envNames returns the names OptionsFromEnv reads, sorted.
func envNames() []string {
	names := make([]string, 0, len(envVars))
	for name := range envVars {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ParsePolicy builds a policy constructor from a short description, as
// GOWATCHDOG_POLICY holds it:
//
//	watermarks:0.5,0.6,0.7   NewWatermarkPolicy(0.5, 0.6, 0.7)
//	adaptive:0.5             NewAdaptivePolicy(0.5)
//	default                  DefaultPolicy
//
// Names are read in any letter case and spaces around values are ignored.
// The values are checked at once (watermarks strictly ascending, each in
// (0, 1]; the factor in (0, 1]), so a bad description is an error here, naming the
// value and the rule, and not when a watchdog starts.
func ParsePolicy(s string) (PolicyCtor, error) {
	kind, args, _ := strings.Cut(strings.TrimSpace(s), ":")
	var nums []float64
	if strings.TrimSpace(args) != "" {
		for _, a := range strings.Split(args, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
			if err != nil {
				return nil, fmt.Errorf("policy %q: %q is not a number", s, strings.TrimSpace(a))
			}
			nums = append(nums, f)
		}
	}
	var ctor PolicyCtor
	switch kind = strings.ToLower(strings.TrimSpace(kind)); {
	case kind == "default" && len(nums) == 0:
		return DefaultPolicy, nil
	case kind == "watermarks" && len(nums) > 0:
		for i := 1; i < len(nums); i++ {
			if !(nums[i] > nums[i-1]) {
				return nil, fmt.Errorf("policy %q: watermark %v is not above %v; write them in ascending order", s, nums[i], nums[i-1])
			}
		}
		ctor = NewWatermarkPolicy(nums...)
	case kind == "adaptive" && len(nums) == 1:
		ctor = NewAdaptivePolicy(nums[0])
	default:
		return nil, fmt.Errorf("policy %q: write watermarks:<w1>,<w2>,... (ascending, in (0, 1]), adaptive:<factor> (in (0, 1]) or default", s)
	}
	if _, err := ctor(1 << 30); err != nil { // the checks do not depend on the limit
		return nil, fmt.Errorf("policy %q: %w", s, err)
	}
	return ctor, nil
}
