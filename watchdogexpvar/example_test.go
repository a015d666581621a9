package watchdogexpvar_test

import (
	"encoding/json"
	"expvar"
	"fmt"

	watchdog "github.com/raulk/go-watchdog"
	"github.com/raulk/go-watchdog/watchdogexpvar"
)

// Publish the watchdog's state; /debug/vars (expvar.Handler, or
// http.DefaultServeMux) then serves it under "watchdog".
func ExamplePublish() {
	if err := watchdogexpvar.Publish(""); err != nil {
		fmt.Println(err)
		return
	}
	err, stop := watchdog.HeapDriven(1<<30, 25, watchdog.NewWatermarkPolicy(0.9))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	var v struct {
		Running    bool   `json:"running"`
		Driver     string `json:"driver"`
		LimitBytes uint64 `json:"limit_bytes"`
	}
	_ = json.Unmarshal([]byte(expvar.Get("watchdog").String()), &v)
	fmt.Println(v.Running, v.Driver, v.LimitBytes)
	// Output: true heap 1073741824
}

// Place the watchdog's state inside a map of your own.
func ExampleFunc() {
	m := expvar.NewMap("myapp")
	m.Set("watchdog", watchdogexpvar.Func())
	fmt.Println(m.Get("watchdog") != nil)
	// Output: true
}
