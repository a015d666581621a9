// Package hook lets package auto reach unexported code of package watchdog
// without widening the public API: watchdog sets the functions at init.
package hook

// StartFromEnv starts a watchdog from the GOWATCHDOG* environment
// variables, logging every outcome; set by package watchdog.
var StartFromEnv func()
