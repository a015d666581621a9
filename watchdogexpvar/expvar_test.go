package watchdogexpvar

import (
	"encoding/json"
	"expvar"
	"net/http/httptest"
	"testing"

	watchdog "github.com/raulk/go-watchdog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// publishedAtInit records, once every package is initialised, whether the
// default name was published by then.
var publishedAtInit = expvar.Get(DefaultName) != nil

func TestPublishIsOptIn(t *testing.T) {
	assert.False(t, publishedAtInit, "importing the package publishes nothing")
}

func TestPublish(t *testing.T) {
	require.NoError(t, Publish("wd_test"))
	require.NoError(t, Publish("wd_test"), "publishing again is a no-op")

	v := expvar.Get("wd_test")
	require.NotNil(t, v)
	var s watchdog.Stats
	require.NoError(t, json.Unmarshal([]byte(v.String()), &s))
	assert.Equal(t, watchdog.Snapshot(), s, "the value is a fresh snapshot")

	// /debug/vars carries it, as a JSON object with the Stats keys.
	rec := httptest.NewRecorder()
	expvar.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/vars", nil))
	var vars map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &vars))
	var obj map[string]any
	require.NoError(t, json.Unmarshal(vars["wd_test"], &obj))
	assert.Contains(t, obj, "limit_bytes")
	assert.Contains(t, obj, "running")
}

func TestPublishNameTaken(t *testing.T) {
	if expvar.Get("wd_taken") == nil {
		expvar.NewInt("wd_taken")
	}
	err := Publish("wd_taken")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `the expvar name "wd_taken" is taken by another variable (*expvar.Int)`)
	_, isInt := expvar.Get("wd_taken").(*expvar.Int)
	assert.True(t, isInt, "the other variable stays")
}
