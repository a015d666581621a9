//go:build race

package watchdog_test

const raceBuild = true
