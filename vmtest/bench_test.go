package vmtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBenchLinesAndTable(t *testing.T) {
	serial := "SeaBIOS\r\n" +
		`VMBENCH {"scenario":"offheap","strategy":"none","run":1,"outcome":"oom-killed","signal":9,"oom_kill":1,"max_events":3,"peak":268435456,"wall_s":0.9}` + "\r\n" +
		`[ 3.1] kernel noise VMBENCH {"scenario":"offheap","strategy":"this","run":1,"outcome":"survived","peak":0,"sampled_peak":209715200,"wall_s":6.5,"result":{"gcs":40,"forced_gcs":3,"gc_cpu_fraction":0.05,"watchdog":{"events":2,"samples":30}}}` + "\r\n" +
		`VMBENCH {"scenario":"offheap","strategy":"this","run":2,"outcome":"survived","max_events":2,"peak":230686720,"wall_s":6.1,"result":{"gcs":60,"forced_gcs":5,"gc_cpu_fraction":0.07,"watchdog":{"events":4,"samples":50}}}` + "\r\n" +
		`VMBENCH {"scenario":"offheap","strategy":"v130","run":1,"outcome":"no-start","detail":"workload: strategy watchdog: x","peak":1048576,"wall_s":0.1}` + "\r\n" +
		"VMTEST DONE in 3.0s\r\n"
	res, err := ParseBenchLines(strings.NewReader(serial))
	require.NoError(t, err)
	require.Len(t, res, 4)
	assert.Equal(t, uint64(200<<20), res[1].PeakBytes(), "sampled peak without memory.peak")
	assert.Equal(t, uint64(4), res[2].Result.Watchdog["events"])

	table := BenchTable(res, "offheap", []string{"none", "gomemlimit", "v130", "this"})
	lines := strings.Split(strings.TrimSpace(table), "\n")
	require.Len(t, lines, 5, "header, rule, and a row per strategy that ran:\n%s", table)
	assert.Equal(t, "| none | 0/1 | 1/1 | – | 256.0 | 0.90 | – | – | – | – | 3 / 3 (3) |", lines[2])
	assert.Equal(t, "| v130 | 0/1 | 0/1 | no-start 1 | 1.0 | 0.10 | – | – | – | – | – |", lines[3])
	assert.Equal(t, "| this | 2/2 | 0/2 | – | 210.0 | 6.30 | 6.0 % | 50 (4) | 3 / 40 | 1/2 | 1 / 2 (0, 2) |", lines[4])

	_, err = ParseBenchLines(strings.NewReader("VMBENCH {not json\n"))
	assert.Error(t, err)
}
