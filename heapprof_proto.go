package watchdog

// The subset of the protobuf wire format, and the profile.proto field
// numbers (github.com/google/pprof/proto/profile.proto), that
// writeHeapProfile needs.

// Field numbers of the profile.proto messages writeHeapProfile writes.
const (
	pfProfileSampleType  = 1 // repeated ValueType
	pfProfileSample      = 2 // repeated Sample
	pfProfileMapping     = 3 // repeated Mapping
	pfProfileLocation    = 4 // repeated Location
	pfProfileFunction    = 5 // repeated Function
	pfProfileStringTable = 6 // repeated string; entry 0 must be ""
	pfProfileTimeNanos   = 9 // int64
	pfProfilePeriodType  = 11
	pfProfilePeriod      = 12

	pfValueTypeType = 1 // string table index
	pfValueTypeUnit = 2 // string table index

	pfSampleLocationID = 1 // packed uint64, leaf first
	pfSampleValue      = 2 // packed int64, one per sample type
	pfSampleLabel      = 3

	pfLabelKey = 1 // string table index
	pfLabelNum = 3

	pfMappingID              = 1
	pfMappingFilename        = 5 // string table index
	pfMappingHasFunctions    = 7 // bool
	pfMappingHasFilenames    = 8
	pfMappingHasLineNumbers  = 9
	pfMappingHasInlineFrames = 10

	pfLocationID        = 1
	pfLocationMappingID = 2
	pfLocationAddress   = 3
	pfLocationLine      = 4 // repeated Line, innermost first

	pfLineFunctionID = 1
	pfLineLine       = 2

	pfFunctionID         = 1
	pfFunctionName       = 2 // string table index
	pfFunctionSystemName = 3 // string table index
	pfFunctionFilename   = 4 // string table index
)

// protoBuf appends protobuf fields to b. profile.proto needs two wire
// types: 0 (varint) and 2 (length-delimited).
type protoBuf struct{ b []byte }

// varint is kept out of line: inlined into every field writer it makes
// this file's code three times larger (18 KB instead of 6 KB of symbols),
// and the watchdog's binary budget matters more than a profile's speed.
//
//go:noinline
func (p *protoBuf) varint(x uint64) {
	for x >= 0x80 {
		p.b = append(p.b, byte(x)|0x80)
		x >>= 7
	}
	p.b = append(p.b, byte(x))
}

func (p *protoBuf) key(field, wireType int) { p.varint(uint64(field)<<3 | uint64(wireType)) }

// uint writes a varint field, leaving it out when x is zero (the default).
// An int64 goes through here too: a negative one is its two's complement,
// ten bytes, as protobuf encodes int64.
func (p *protoBuf) uint(field int, x uint64) {
	if x != 0 {
		p.key(field, 0)
		p.varint(x)
	}
}

// bytes writes a length-delimited field: a string or an encoded message.
func (p *protoBuf) bytes(field int, b []byte) {
	p.key(field, 2)
	p.varint(uint64(len(b)))
	p.b = append(p.b, b...)
}

func (p *protoBuf) string(field int, s string) {
	p.key(field, 2)
	p.varint(uint64(len(s)))
	p.b = append(p.b, s...)
}

// packed writes a repeated varint field in packed form. Empty xs writes
// nothing.
func (p *protoBuf) packed(field int, xs []uint64) {
	if len(xs) == 0 {
		return
	}
	n := 0
	for _, x := range xs {
		n++
		for ; x >= 0x80; x >>= 7 {
			n++
		}
	}
	p.key(field, 2)
	p.varint(uint64(n))
	for _, x := range xs {
		p.varint(x)
	}
}
