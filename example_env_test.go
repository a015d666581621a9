package watchdog_test

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

// Options from GOWATCHDOG_* variables, as an operator would set them, then
// the recommended start.
func ExampleOptionsFromEnv() {
	os.Setenv("GOWATCHDOG_HEAP_LIMIT", "2Gi")
	os.Setenv("GOWATCHDOG_FREQUENCY", "500ms")
	os.Setenv("GOWATCHDOG_POLICY", "adaptive:0.5")
	defer os.Unsetenv("GOWATCHDOG_HEAP_LIMIT")
	defer os.Unsetenv("GOWATCHDOG_FREQUENCY")
	defer os.Unsetenv("GOWATCHDOG_POLICY")

	opts, err := watchdog.OptionsFromEnv()
	if err != nil {
		fmt.Println(err) // one line naming every bad variable
		return
	}
	fmt.Println(opts.HeapLimit, opts.Frequency, opts.Policy != nil)

	res, stop, err := watchdog.Start(opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	fmt.Println(res)
	// Output:
	// 2147483648 500ms true
	// heap watchdog started with limit 2.0 GiB (2147483648 bytes)
}

// A malformed variable is an error that names it, its value and the rule.
func ExampleOptionsFromEnv_malformed() {
	os.Setenv("GOWATCHDOG_MIN_GOGC", "none")
	defer os.Unsetenv("GOWATCHDOG_MIN_GOGC")
	_, err := watchdog.OptionsFromEnv()
	fmt.Println(err)
	// Output: watchdog: GOWATCHDOG_MIN_GOGC="none": it must be a positive integer
}

func ExampleParseSize() {
	for _, s := range []string{"2Gi", "512MiB", "1G", "256mib", "1.5GiB", "1536"} {
		n, _ := watchdog.ParseSize(s)
		fmt.Println(s, n)
	}
	_, err := watchdog.ParseSize("128mbx")
	fmt.Println(err)
	// Output:
	// 2Gi 2147483648
	// 512MiB 536870912
	// 1G 1000000000
	// 256mib 268435456
	// 1.5GiB 1610612736
	// 1536 1536
	// size "128mbx" has an unknown unit "mbx"; accepted units: B; k, M, G, T, P, E or KB, MB, GB, TB, PB, EB (powers of 1000); Ki, Mi, Gi, Ti, Pi, Ei or KiB, MiB, GiB, TiB, PiB, EiB (powers of 1024); any letter case
}

func ExampleParsePolicy() {
	ctor, err := watchdog.ParsePolicy("watermarks:0.5,0.9")
	if err != nil {
		fmt.Println(err)
		return
	}
	policy, _ := ctor(1000)
	fmt.Println(policy.Evaluate(watchdog.UtilizationSystem, 600))

	_, err = watchdog.ParsePolicy("adaptive:2")
	fmt.Println(err)
	// Output:
	// 900
	// policy "adaptive:2": watchdog: adaptive factor 2 is outside (0, 1]
}

// Stats in JSON: snake_case keys, sizes in bytes, null for never and for
// no limit.
func ExampleStats_MarshalJSON() {
	s := watchdog.Stats{Running: true, Driver: "heap", Limit: 1 << 30, Usage: 300 << 20, Threshold: 900 << 20,
		GOGC: 50, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
	// Output:
	// {"running":true,"driver":"heap","source":"","started":"2026-01-02T03:04:05Z","limit_bytes":1073741824,"usage_bytes":314572800,"threshold_bytes":943718400,"soft_limit_bytes":0,"gogc":50,"gcs":0,"forced_gcs":0,"last_forced_gc":null,"events":0,"samples":0,"read_errors":0,"last_sample":null,"reclaimable_bytes":0,"reserve_bytes":0,"user_soft_limit_bytes":0,"forced_gcs_deferred":0,"callback_panics":0,"logs_dropped":0,"pressure":"none","beyond_gc":false,"threshold_crossings":0,"gcs_ineffective":0,"pressure_changes":0,"limit_changes":0,"soft_limit_changes":0,"events_dropped":0}
}

// GOWATCHDOG=off turns Start off: nothing starts and the error is nil.
func ExampleResult_String() {
	os.Setenv("GOWATCHDOG", "off")
	defer os.Unsetenv("GOWATCHDOG")
	res, stop, err := watchdog.Start(watchdog.Options{})
	defer stop()
	fmt.Println(res, err, res.Disabled)
	// Output: watchdog disabled by GOWATCHDOG=off <nil> true
}

// Reading a snapshot back, e.g. from another process's /debug/vars.
func ExampleStats_UnmarshalJSON() {
	var s watchdog.Stats
	err := json.Unmarshal([]byte(`{"running":true,"driver":"cgroup","limit_bytes":536870912,"threshold_bytes":null}`), &s)
	fmt.Println(err, s.Driver, s.Limit, s.Threshold == watchdog.PolicyTempDisabled)
	// Output: <nil> cgroup 536870912 true
}
