package watchdog

import (
	"encoding/json"
	"math"
	"time"
)

// statsJSON is the JSON form of Stats: snake_case keys, sizes in bytes with
// a _bytes suffix, null for "never" and "no limit".
type statsJSON struct {
	Running            bool       `json:"running"`
	Driver             string     `json:"driver"`
	Source             string     `json:"source"`
	Started            *time.Time `json:"started"`
	LimitBytes         *uint64    `json:"limit_bytes"`
	UsageBytes         uint64     `json:"usage_bytes"`
	ThresholdBytes     *uint64    `json:"threshold_bytes"`
	SoftLimitBytes     *int64     `json:"soft_limit_bytes"`
	GOGC               int        `json:"gogc"`
	GCs                uint64     `json:"gcs"`
	ForcedGCs          uint64     `json:"forced_gcs"`
	LastForcedGC       *time.Time `json:"last_forced_gc"`
	Events             uint64     `json:"events"`
	Samples            uint64     `json:"samples"`
	ReadErrors         uint64     `json:"read_errors"`
	LastSample         *time.Time `json:"last_sample"`
	ReclaimableBytes   uint64     `json:"reclaimable_bytes"`
	ReserveBytes       uint64     `json:"reserve_bytes"`
	UserSoftLimitBytes *int64     `json:"user_soft_limit_bytes"`
	ForcedGCsDeferred  uint64     `json:"forced_gcs_deferred"`
	CallbackPanics     uint64     `json:"callback_panics"`
	LogsDropped        uint64     `json:"logs_dropped"`
	Pressure           string     `json:"pressure"`
	BeyondGC           bool       `json:"beyond_gc"`
	ThresholdCrossings uint64     `json:"threshold_crossings"`
	GCsIneffective     uint64     `json:"gcs_ineffective"`
	PressureChanges    uint64     `json:"pressure_changes"`
	LimitChanges       uint64     `json:"limit_changes"`
	SoftLimitChanges   uint64     `json:"soft_limit_changes"`
	EventsDropped      uint64     `json:"events_dropped"`
}

// MarshalJSON encodes s as one JSON object with snake_case keys, sizes in
// bytes under keys ending in _bytes (limit_bytes, usage_bytes, ...), counts
// as numbers and times in RFC 3339 with nanoseconds. Values that mean
// "none" are null rather than sentinel numbers: a zero time (started,
// last_forced_gc, last_sample), a threshold of PolicyTempDisabled, and a
// soft limit of math.MaxInt64 or more (no limit). expvar and log pipelines
// can then read it as it is; UnmarshalJSON reads it back into the same
// Stats.
func (s Stats) MarshalJSON() ([]byte, error) {
	j := statsJSON{
		Running: s.Running, Driver: s.Driver, Source: s.Source, Started: optTime(s.Started),
		UsageBytes: s.Usage, SoftLimitBytes: optLimit(s.SoftLimit),
		GOGC: s.GOGC, GCs: s.GCs, ForcedGCs: s.ForcedGCs, LastForcedGC: optTime(s.LastForcedGC),
		Events: s.Events, Samples: s.Samples, ReadErrors: s.ReadErrors, LastSample: optTime(s.LastSample),
		ReclaimableBytes: s.Reclaimable, ReserveBytes: s.Reserve, UserSoftLimitBytes: optLimit(s.UserSoftLimit),
		ForcedGCsDeferred: s.ForcedGCsDeferred, CallbackPanics: s.CallbackPanics, LogsDropped: s.LogsDropped,
		Pressure: s.Pressure.String(), BeyondGC: s.BeyondGC, ThresholdCrossings: s.ThresholdCrossings, GCsIneffective: s.GCsIneffective,
		PressureChanges: s.PressureChanges, LimitChanges: s.LimitChanges, SoftLimitChanges: s.SoftLimitChanges, EventsDropped: s.EventsDropped,
	}
	if s.Limit != 0 {
		j.LimitBytes = &s.Limit
	}
	if s.Threshold != PolicyTempDisabled {
		j.ThresholdBytes = &s.Threshold
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form MarshalJSON writes; null and missing keys
// read as the value they stand for (zero times, PolicyTempDisabled, no soft
// limit) and unknown keys are ignored.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var j statsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Stats{
		Running: j.Running, Driver: j.Driver, Source: j.Source, Started: fromOptTime(j.Started),
		Usage: j.UsageBytes, Threshold: PolicyTempDisabled, SoftLimit: fromOptLimit(j.SoftLimitBytes),
		GOGC: j.GOGC, GCs: j.GCs, ForcedGCs: j.ForcedGCs, LastForcedGC: fromOptTime(j.LastForcedGC),
		Events: j.Events, Samples: j.Samples, ReadErrors: j.ReadErrors, LastSample: fromOptTime(j.LastSample),
		Reclaimable: j.ReclaimableBytes, Reserve: j.ReserveBytes, UserSoftLimit: fromOptLimit(j.UserSoftLimitBytes),
		ForcedGCsDeferred: j.ForcedGCsDeferred, CallbackPanics: j.CallbackPanics, LogsDropped: j.LogsDropped,
		Pressure: parsePressure(j.Pressure), BeyondGC: j.BeyondGC, ThresholdCrossings: j.ThresholdCrossings, GCsIneffective: j.GCsIneffective,
		PressureChanges: j.PressureChanges, LimitChanges: j.LimitChanges, SoftLimitChanges: j.SoftLimitChanges, EventsDropped: j.EventsDropped,
	}
	if j.LimitBytes != nil {
		s.Limit = *j.LimitBytes
	}
	if j.ThresholdBytes != nil {
		s.Threshold = *j.ThresholdBytes
	}
	return nil
}

func parsePressure(s string) Pressure {
	for p := PressureNone; p <= PressureCritical; p++ {
		if p.String() == s {
			return p
		}
	}
	return PressureNone
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func optLimit(n int64) *int64 {
	if n == math.MaxInt64 {
		return nil
	}
	return &n
}

func fromOptLimit(n *int64) int64 {
	if n == nil {
		return math.MaxInt64
	}
	return *n
}
