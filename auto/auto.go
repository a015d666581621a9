// Package auto starts the memory watchdog when a program imports it, with
// no code and its settings read from the environment:
//
//	import _ "github.com/raulk/go-watchdog/auto"
//
// At init it reads Options with watchdog.OptionsFromEnv and calls
// watchdog.Start, which picks the driver by the recommended precedence: a
// heap limit if one is set, else the process's memory cgroup if it has a
// limit, else the machine's memory. The watchdog then runs for the life of
// the process. The variables, all optional:
//
//	GOWATCHDOG               off (or false, 0, no, disabled) starts nothing
//	GOWATCHDOG_HEAP_LIMIT    a heap limit such as 2Gi or 1536MiB: selects the heap driver
//	GOWATCHDOG_SYSTEM_LIMIT  the system driver's limit; unset means all memory
//	GOWATCHDOG_MIN_GOGC      the heap driver's lowest GOGC; unset means 25
//	GOWATCHDOG_FREQUENCY     the polling period, such as 500ms; unset means 1s
//	GOWATCHDOG_POLICY        watermarks:0.5,0.7,0.9 or adaptive:0.5; unset means watchdog.DefaultPolicy
//	GOWATCHDOG_SOFT_LIMIT    off leaves the Go soft memory limit alone
//	GOWATCHDOG_EVENTS        off polls only, ignoring the kernel's memory events
//
// Sizes take the units of watchdog.ParseSize, in any letter case: Ki, Mi,
// Gi (powers of 1024) or k, M, G (powers of 1000), with or without a
// trailing B.
//
// A malformed variable, or a GOWATCHDOG_ variable with an unknown name,
// starts nothing: the package logs one error line naming every such
// variable, its value and the rule, and the program runs without a
// watchdog. It does not guess: a heap limit that does not parse must not
// turn into a different limit. GOWATCHDOG=off logs one info line and starts
// nothing. These lines, and the watchdog's own start lines, are written
// before the program's main runs, through the default logger (the standard
// log package's output). To send later lines elsewhere, call
// watchdog.SetLogger in main: assigning watchdog.Logger while the watchdog
// runs is a data race.
//
// The package exports nothing. A program that needs the Result, the stop
// function or an error to act on calls watchdog.OptionsFromEnv and
// watchdog.Start itself instead.
package auto

import (
	_ "github.com/raulk/go-watchdog" // sets hook.StartFromEnv
	"github.com/raulk/go-watchdog/internal/hook"
)

func init() {
	hook.StartFromEnv()
}
