package watchdog

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// A small reader for the profile.proto subset writeHeapProfile writes,
// written from the .proto definition, independently of the encoder: it
// checks the wire format and that every reference resolves.

// pbField is one field of a protobuf message.
type pbField struct {
	num  int
	wire int
	v    uint64 // wire type 0
	b    []byte // wire type 2
}

func pbVarint(b []byte) (uint64, int, error) {
	var x uint64
	for i := 0; i < len(b) && i < 10; i++ {
		x |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return x, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("bad varint at % x", b[:min(len(b), 10)])
}

// pbFields splits a message into its fields.
func pbFields(b []byte) ([]pbField, error) {
	var fs []pbField
	for len(b) > 0 {
		k, n, err := pbVarint(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		f := pbField{num: int(k >> 3), wire: int(k & 7)}
		switch f.wire {
		case 0:
			if f.v, n, err = pbVarint(b); err != nil {
				return nil, err
			}
			b = b[n:]
		case 2:
			l, n, err := pbVarint(b)
			if err != nil {
				return nil, err
			}
			if l > uint64(len(b)-n) {
				return nil, fmt.Errorf("field %d: length %d past the end", f.num, l)
			}
			f.b, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, fmt.Errorf("field %d: unexpected wire type %d", f.num, f.wire)
		}
		if f.num == 0 {
			return nil, fmt.Errorf("field number 0")
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// pbPacked decodes a packed repeated varint field.
func pbPacked(b []byte) ([]uint64, error) {
	var xs []uint64
	for len(b) > 0 {
		x, n, err := pbVarint(b)
		if err != nil {
			return nil, err
		}
		xs, b = append(xs, x), b[n:]
	}
	return xs, nil
}

type decodedFrame struct {
	name, file string
	line       int64
}

type decodedSample struct {
	locs      []uint64
	values    []int64
	numLabels map[string]int64
}

type decodedProfile struct {
	sampleTypes []string // "type/unit"
	periodType  string
	period      int64
	timeNanos   int64
	samples     []decodedSample
	locs        map[uint64][]decodedFrame // Location.id: its lines, innermost first
	mappings    map[uint64]string         // Mapping.id: file
	strs        []string
}

// frame returns the innermost frame of location id.
func (p *decodedProfile) frame(id uint64) decodedFrame { return p.locs[id][0] }

// decodeHeapProfile decodes a profile, fails t unless it is a valid heap
// profile (the four sample types, space/bytes period, every id defined
// once and every reference resolved), and returns it.
func decodeHeapProfile(t *testing.T, data []byte) *decodedProfile {
	t.Helper()
	fields, err := pbFields(data)
	require.NoError(t, err)
	p := &decodedProfile{locs: map[uint64][]decodedFrame{}, mappings: map[uint64]string{}}
	var samples, locs, funcs, mappings [][]byte
	var sampleTypes, periodType [][]byte
	for _, f := range fields {
		switch f.num {
		case pfProfileSampleType:
			sampleTypes = append(sampleTypes, f.b)
		case pfProfileSample:
			samples = append(samples, f.b)
		case pfProfileLocation:
			locs = append(locs, f.b)
		case pfProfileFunction:
			funcs = append(funcs, f.b)
		case pfProfileMapping:
			mappings = append(mappings, f.b)
		case pfProfileStringTable:
			p.strs = append(p.strs, string(f.b))
		case pfProfilePeriodType:
			periodType = append(periodType, f.b)
		case pfProfilePeriod:
			p.period = int64(f.v)
		case pfProfileTimeNanos:
			p.timeNanos = int64(f.v)
		default:
			t.Fatalf("unexpected Profile field %d", f.num)
		}
	}
	require.NotEmpty(t, p.strs)
	require.Equal(t, "", p.strs[0], "string_table[0]")
	str := func(i uint64) string {
		require.Less(t, i, uint64(len(p.strs)), "string index")
		return p.strs[i]
	}
	// msg decodes a message into field number -> values (varints, or byte
	// strings for length-delimited fields).
	msg := func(b []byte) (map[int][]uint64, map[int][][]byte) {
		fs, err := pbFields(b)
		require.NoError(t, err)
		vs, bs := map[int][]uint64{}, map[int][][]byte{}
		for _, f := range fs {
			if f.wire == 0 {
				vs[f.num] = append(vs[f.num], f.v)
			} else {
				bs[f.num] = append(bs[f.num], f.b)
			}
		}
		return vs, bs
	}
	one := func(vs map[int][]uint64, num int) uint64 {
		require.LessOrEqual(t, len(vs[num]), 1, "field %d repeated", num)
		if len(vs[num]) == 0 {
			return 0
		}
		return vs[num][0]
	}
	valueType := func(b []byte) string {
		vs, _ := msg(b)
		return str(one(vs, pfValueTypeType)) + "/" + str(one(vs, pfValueTypeUnit))
	}
	for _, b := range sampleTypes {
		p.sampleTypes = append(p.sampleTypes, valueType(b))
	}
	require.Equal(t, []string{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"}, p.sampleTypes)
	require.Len(t, periodType, 1)
	p.periodType = valueType(periodType[0])
	require.Equal(t, "space/bytes", p.periodType)

	for _, b := range mappings {
		vs, _ := msg(b)
		id := one(vs, pfMappingID)
		require.NotZero(t, id, "Mapping.id")
		require.NotContains(t, p.mappings, id, "Mapping.id %d twice", id)
		p.mappings[id] = str(one(vs, pfMappingFilename))
		for _, f := range []int{pfMappingHasFunctions, pfMappingHasFilenames, pfMappingHasLineNumbers} {
			require.Equal(t, uint64(1), one(vs, f), "Mapping %d field %d: symbolized", id, f)
		}
	}
	fnByID := map[uint64]decodedFrame{}
	for _, b := range funcs {
		vs, _ := msg(b)
		id := one(vs, pfFunctionID)
		require.NotZero(t, id, "Function.id")
		require.NotContains(t, fnByID, id, "Function.id %d twice", id)
		name := str(one(vs, pfFunctionName))
		require.NotEmpty(t, name)
		require.Equal(t, name, str(one(vs, pfFunctionSystemName)))
		fnByID[id] = decodedFrame{name: name, file: str(one(vs, pfFunctionFilename))}
	}
	for _, b := range locs {
		vs, bs := msg(b)
		id := one(vs, pfLocationID)
		require.NotZero(t, id, "Location.id")
		require.NotContains(t, p.locs, id, "Location.id %d twice", id)
		require.NotZero(t, one(vs, pfLocationAddress), "Location %d address", id)
		if m := one(vs, pfLocationMappingID); m != 0 {
			require.Contains(t, p.mappings, m, "Location %d: unknown mapping", id)
		}
		require.NotEmpty(t, bs[pfLocationLine], "Location %d has no line", id)
		for _, lb := range bs[pfLocationLine] {
			lvs, _ := msg(lb)
			fr, ok := fnByID[one(lvs, pfLineFunctionID)]
			require.True(t, ok, "Location %d: unknown function id", id)
			fr.line = int64(one(lvs, pfLineLine))
			p.locs[id] = append(p.locs[id], fr)
		}
	}
	for _, b := range samples {
		_, bs := msg(b)
		var s decodedSample
		for _, pb := range bs[pfSampleLocationID] {
			ids, err := pbPacked(pb)
			require.NoError(t, err)
			s.locs = append(s.locs, ids...)
		}
		for _, id := range s.locs {
			require.Contains(t, p.locs, id, "sample refers to an unknown location")
		}
		for _, pb := range bs[pfSampleValue] {
			vs, err := pbPacked(pb)
			require.NoError(t, err)
			for _, v := range vs {
				s.values = append(s.values, int64(v))
			}
		}
		require.Len(t, s.values, 4, "one value per sample type")
		for _, lb := range bs[pfSampleLabel] {
			lvs, _ := msg(lb)
			if s.numLabels == nil {
				s.numLabels = map[string]int64{}
			}
			s.numLabels[str(one(lvs, pfLabelKey))] = int64(one(lvs, pfLabelNum))
		}
		p.samples = append(p.samples, s)
	}
	return p
}
