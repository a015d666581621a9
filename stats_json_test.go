package watchdog

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// distinctStats fills every field of Stats with a distinct non-zero value,
// found by reflection, so a field added later is covered too.
func distinctStats(t *testing.T) Stats {
	var s Stats
	v := reflect.ValueOf(&s).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.String:
			f.SetString("s" + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(1000 + i))
			if f.Type() == reflect.TypeOf(PressureNone) {
				f.SetInt(int64(PressureCritical))
			}
		case reflect.Uint64:
			f.SetUint(uint64(1<<40 + i))
		case reflect.Struct:
			require.Equal(t, reflect.TypeOf(time.Time{}), f.Type(), "field %s", v.Type().Field(i).Name)
			f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6+i, time.UTC)))
		default:
			t.Fatalf("Stats.%s has kind %s: teach distinctStats and stats_json.go about it", v.Type().Field(i).Name, f.Kind())
		}
	}
	return s
}

func TestStatsJSONRoundTripsEveryField(t *testing.T) {
	in := distinctStats(t)
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var out Stats
	require.NoError(t, json.Unmarshal(b, &out))
	inV, outV := reflect.ValueOf(in), reflect.ValueOf(out)
	for i := 0; i < inV.NumField(); i++ {
		assert.Equal(t, inV.Field(i).Interface(), outV.Field(i).Interface(),
			"Stats.%s does not survive JSON: add it to statsJSON in stats_json.go", inV.Type().Field(i).Name)
	}
	var keys map[string]any
	require.NoError(t, json.Unmarshal(b, &keys))
	assert.Len(t, keys, inV.NumField(), "one key per Stats field")
}

func TestStatsJSONShape(t *testing.T) {
	started := time.Date(2026, 11, 28, 9, 0, 0, 500, time.UTC)
	s := Stats{Running: true, Driver: "cgroup", Source: "cgroup v2 /sys/fs/cgroup/app", Started: started,
		Limit: 1 << 30, Usage: 600 << 20, Threshold: PolicyTempDisabled, SoftLimit: 900 << 20, GOGC: 100,
		GCs: 12, ForcedGCs: 2, UserSoftLimit: math.MaxInt64}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"running": true, "driver": "cgroup", "source": "cgroup v2 /sys/fs/cgroup/app",
		"started": "2026-11-28T09:00:00.0000005Z", "limit_bytes": 1073741824, "usage_bytes": 629145600,
		"threshold_bytes": null, "soft_limit_bytes": 943718400, "gogc": 100, "gcs": 12, "forced_gcs": 2,
		"last_forced_gc": null, "events": 0, "samples": 0, "read_errors": 0, "last_sample": null,
		"reclaimable_bytes": 0, "reserve_bytes": 0, "user_soft_limit_bytes": null,
		"forced_gcs_deferred": 0, "callback_panics": 0, "logs_dropped": 0,
		"pressure": "none", "beyond_gc": false, "threshold_crossings": 0, "gcs_ineffective": 0,
		"pressure_changes": 0, "limit_changes": 0, "soft_limit_changes": 0, "events_dropped": 0}`, string(b))

	// A pointer marshals the same, and the zero Stats has no sentinel numbers.
	pb, err := json.Marshal(&s)
	require.NoError(t, err)
	assert.Equal(t, b, pb)
	zb, err := json.Marshal(Stats{})
	require.NoError(t, err)
	assert.Contains(t, string(zb), `"started":null`)
	assert.Contains(t, string(zb), `"threshold_bytes":0`)
	assert.Contains(t, string(zb), `"limit_bytes":null`, "limit 0 means none")

	var back Stats
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, PolicyTempDisabled, back.Threshold)
	assert.Equal(t, int64(math.MaxInt64), back.UserSoftLimit)
	assert.True(t, back.Started.Equal(started))
	assert.True(t, back.LastSample.IsZero())
	assert.Error(t, json.Unmarshal([]byte(`{"limit_bytes": "lots"}`), &back))
}
