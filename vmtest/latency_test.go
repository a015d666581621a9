package vmtest

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	assert.Equal(t, 5.0, percentile(xs, 0.5))
	assert.Equal(t, 9.0, percentile(xs, 0.9))
	assert.Equal(t, 10.0, percentile(xs, 1))
	assert.Equal(t, 1.0, percentile(xs, 0.01))
	assert.True(t, math.IsNaN(percentile(nil, 0.5)))
	assert.Equal(t, []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}, xs, "the input is not reordered")
}

func TestLatencyTable(t *testing.T) {
	serial := `VMBENCH {"scenario":"latency","strategy":"v130","run":1,"outcome":"no-start","wall_s":0.1}
VMBENCH {"scenario":"latency","strategy":"this","run":1,"outcome":"survived","max_events":0,"wall_s":20,"result":{"threshold":134217728,"trials":[{"latency_ms":40},{"latency_ms":0.5,"runq_wait_ms":300},{"latency_ms":3100,"missed":true},{"latency_ms":12}],"watchdog":{"events":1,"samples":90,"forced_gcs":4}}}
`
	res, err := ParseBenchLines(strings.NewReader(serial))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(LatencyTable(res, []string{"v130", "this"})), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, "| v130 | no-start | — | — | — | — | — | — | 0 |", lines[2])
	assert.Equal(t, "| this | 4 | 12.0 | 40.0 | 40.0 | 1 | 1 / 90 / 4 | 300 | 0 |", lines[3], "latencies over the 3 trials not missed")
}

func TestEventSourceTable(t *testing.T) {
	serial := `VMBENCH {"scenario":"spike","strategy":"this","run":1,"outcome":"survived","monitor":{"first_max_ms":-1,"psi":[{"trigger":"some 150000 2000000","fires":0,"first_ms":-1},{"trigger":"some 10000 500000","fires":2,"first_ms":900}]}}
VMBENCH {"scenario":"spike","strategy":"this","run":2,"outcome":"survived","monitor":{"first_max_ms":1000,"psi":[{"trigger":"some 150000 2000000","fires":1,"first_ms":1500},{"trigger":"some 10000 500000","fires":3,"first_ms":800}]}}
VMBENCH {"scenario":"spike","strategy":"none","run":1,"outcome":"oom-killed","monitor":{"first_max_ms":300,"psi":[{"trigger":"some 150000 2000000","fires":0,"first_ms":-1,"error":"EINVAL"},{"trigger":"some 10000 500000","fires":1,"first_ms":310}]}}
VMBENCH {"scenario":"spike","strategy":"v130","run":1,"outcome":"no-start","monitor":{"first_max_ms":-1}}
VMBENCH {"scenario":"heaponly","strategy":"this","run":1,"outcome":"survived","monitor":{"first_max_ms":5}}
`
	res, err := ParseBenchLines(strings.NewReader(serial))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(EventSourceTable(res, "spike", []string{"none", "v130", "this"})), "\n")
	require.Len(t, lines, 4, "header, rule, none and this (v130 never started)")
	assert.Contains(t, lines[0], "PSI some 10 ms in 500 ms")
	assert.Equal(t, "| none | 1/1 (300) | not armed | 1/1, 1, 310, 0 |", lines[2])
	assert.Equal(t, "| this | 1/2 (1000) | 1/2, 0.5, 1500, 0 | 2/2, 2.5, 800, 2 |", lines[3],
		"the short trigger fired first in run 2 and in run 1, which never reached memory.max")
}

func TestMaxEventsCellInRunOrder(t *testing.T) {
	runs := []BenchResult{{Run: 3, MaxEvents: 7}, {Run: 1, MaxEvents: 0}, {Run: 2, MaxEvents: 1}}
	assert.Equal(t, "1 / 7 (0, 1, 7)", maxEventsCell(runs))
	assert.Equal(t, "–", maxEventsCell(nil))
}
