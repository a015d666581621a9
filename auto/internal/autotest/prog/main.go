// Command prog only blank-imports package auto, then prints the watchdog's
// Snapshot as JSON, for the tests of package auto.
package main

import (
	"encoding/json"
	"os"

	watchdog "github.com/raulk/go-watchdog"
	_ "github.com/raulk/go-watchdog/auto"
)

func main() {
	if err := json.NewEncoder(os.Stdout).Encode(watchdog.Snapshot()); err != nil {
		os.Exit(1)
	}
}
