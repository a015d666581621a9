package watchdog

import (
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"time"
)

// This file writes heap profiles in pprof's protobuf format without
// runtime/pprof, which would add about 300 KB to every program that links
// the watchdog (compress/flate, text/tabwriter and more come with it).
//
// The output is an uncompressed profile.proto message
// (github.com/google/pprof/proto/profile.proto). go tool pprof and the
// pprof web UI accept it as they accept a gzipped one. Differences from
// runtime/pprof's heap profile, none of which changes what pprof reports
// per function:
//   - no gzip;
//   - one Mapping, the executable, with unknown addresses (start, limit
//     and offset 0, as runtime/pprof writes where it cannot read
//     /proc/self/maps) and no build ID; it is marked symbolized, since
//     locations carry their functions, files and lines, so pprof neither
//     needs the binary nor tries to symbolize again;
//   - one Location per logical frame: a call inlined into its caller gets
//     its own Location (at the PC of its inline mark) rather than a second
//     Line in the caller's Location;
//   - no Function.start_line (runtime.Frame does not export it).

// heapProfileBuilder encodes one Profile message into out. Strings,
// functions and locations are written to out the first time they are
// seen, ahead of the samples that refer to them: protobuf lets a repeated
// field's entries interleave with other fields, and pprof resolves the
// references once the whole message is read.
type heapProfileBuilder struct {
	out, msg, sub protoBuf // the profile; scratch for a message and one nested in it

	strings map[string]uint64  // string table index
	funcs   map[string]uint64  // Function.id by name
	locs    map[uintptr]uint64 // Location.id by PC

	frames []runtime.Frame
	ids    []uint64
	values [4]uint64
}

func newHeapProfileBuilder() *heapProfileBuilder {
	b := &heapProfileBuilder{
		strings: map[string]uint64{},
		funcs:   map[string]uint64{},
		locs:    map[uintptr]uint64{},
	}
	b.str("") // index 0
	return b
}

// str returns s's index in the string table, adding it if new.
func (b *heapProfileBuilder) str(s string) uint64 {
	i, ok := b.strings[s]
	if !ok {
		i = uint64(len(b.strings))
		b.strings[s] = i
		b.out.string(pfProfileStringTable, s)
	}
	return i
}

func (b *heapProfileBuilder) valueType(field int, typ, unit string) {
	b.sub.b = b.sub.b[:0]
	b.sub.uint(pfValueTypeType, b.str(typ))
	b.sub.uint(pfValueTypeUnit, b.str(unit))
	b.out.bytes(field, b.sub.b)
}

// function returns the id of the Function for f, writing it if new.
func (b *heapProfileBuilder) function(f *runtime.Frame) uint64 {
	if id, ok := b.funcs[f.Function]; ok {
		return id
	}
	id := uint64(len(b.funcs) + 1)
	b.funcs[f.Function] = id
	name := b.str(f.Function)
	b.msg.b = b.msg.b[:0]
	b.msg.uint(pfFunctionID, id)
	b.msg.uint(pfFunctionName, name)
	b.msg.uint(pfFunctionSystemName, name)
	b.msg.uint(pfFunctionFilename, b.str(f.File))
	b.out.bytes(pfProfileFunction, b.msg.b)
	return id
}

// location returns the id of the Location for frames, which share one PC
// (more than one only when a cgo symbolizer expands a PC), writing it if
// new.
func (b *heapProfileBuilder) location(frames []runtime.Frame) uint64 {
	pc := frames[0].PC
	if id, ok := b.locs[pc]; ok {
		return id
	}
	id := uint64(len(b.locs) + 1)
	b.locs[pc] = id
	var fnIDs [8]uint64
	fns := fnIDs[:0]
	for i := range frames { // first: function uses msg too
		fns = append(fns, b.function(&frames[i]))
	}
	b.msg.b = b.msg.b[:0]
	b.msg.uint(pfLocationID, id)
	b.msg.uint(pfLocationMappingID, heapProfileMappingID)
	b.msg.uint(pfLocationAddress, uint64(pc))
	for i := range frames {
		b.sub.b = b.sub.b[:0]
		b.sub.uint(pfLineFunctionID, fns[i])
		b.sub.uint(pfLineLine, uint64(int64(frames[i].Line)))
		b.msg.bytes(pfLocationLine, b.sub.b)
	}
	b.out.bytes(pfProfileLocation, b.msg.b)
	return id
}

// heapProfileMappingID is the id of the one Mapping, the executable.
const heapProfileMappingID = 1

// mapping writes the Mapping of the executable.
func (b *heapProfileBuilder) mapping() {
	exe, err := os.Executable()
	if err != nil && len(os.Args) > 0 {
		exe = os.Args[0]
	}
	b.msg.b = b.msg.b[:0]
	b.msg.uint(pfMappingID, heapProfileMappingID)
	b.msg.uint(pfMappingFilename, b.str(exe))
	for _, f := range []int{pfMappingHasFunctions, pfMappingHasFilenames, pfMappingHasLineNumbers, pfMappingHasInlineFrames} {
		b.msg.uint(f, 1)
	}
	b.out.bytes(pfProfileMapping, b.msg.b)
}

// isRuntimeFrame reports whether a function belongs to the runtime.
func isRuntimeFrame(function string) bool {
	return strings.HasPrefix(function, "runtime.") || strings.HasPrefix(function, "internal/runtime/")
}

// sample writes the Sample for r; rate is the sampling rate r was taken at.
func (b *heapProfileBuilder) sample(r *runtime.MemProfileRecord, rate int64) {
	b.frames = b.frames[:0]
	if stk := r.Stack(); len(stk) > 0 {
		for it := runtime.CallersFrames(stk); ; {
			f, more := it.Next()
			b.frames = append(b.frames, f)
			if !more {
				break
			}
		}
	}
	// Like runtime/pprof, drop the allocator's own frames at the leaf end,
	// unless the stack has nothing else.
	frames := b.frames
	for len(frames) > 0 && isRuntimeFrame(frames[0].Function) {
		frames = frames[1:]
	}
	if len(frames) == 0 {
		frames = b.frames
	}
	b.ids = b.ids[:0]
	for i := 0; i < len(frames); {
		j := i + 1
		for j < len(frames) && frames[j].PC == frames[i].PC {
			j++
		}
		b.ids = append(b.ids, b.location(frames[i:j]))
		i = j
	}

	v := &b.values
	ao, ab := scaleHeapSample(r.AllocObjects, r.AllocBytes, rate)
	uo, ub := scaleHeapSample(r.InUseObjects(), r.InUseBytes(), rate)
	v[0], v[1], v[2], v[3] = uint64(ao), uint64(ab), uint64(uo), uint64(ub)
	b.msg.b = b.msg.b[:0]
	b.msg.packed(pfSampleLocationID, b.ids)
	b.msg.packed(pfSampleValue, v[:])
	if r.AllocObjects > 0 {
		b.sub.b = b.sub.b[:0]
		b.sub.uint(pfLabelKey, b.str("bytes"))
		b.sub.uint(pfLabelNum, uint64(r.AllocBytes/r.AllocObjects))
		b.msg.bytes(pfSampleLabel, b.sub.b)
	}
	b.out.bytes(pfProfileSample, b.msg.b)
}

// scaleHeapSample estimates the objects and bytes allocated from the
// sampled count and size of one record. The runtime samples an allocation
// of s bytes with probability 1-e^(-s/rate), so each sampled figure is
// divided by that probability, taken at the record's average object size.
// A rate of 1 samples everything, and one below 1 is unknown: both leave
// the figures as they are.
func scaleHeapSample(count, size, rate int64) (int64, int64) {
	if count == 0 || size == 0 {
		return 0, 0
	}
	if rate <= 1 {
		return count, size
	}
	avg := float64(size) / float64(count)
	p := -math.Expm1(-avg / float64(rate)) // 1-e^(-avg/rate), accurate when avg/rate is tiny
	return int64(float64(count) / p), int64(float64(size) / p)
}

// writeHeapProfile writes the heap profile, as go tool pprof reads it, to
// w: sample types alloc_objects, alloc_space, inuse_objects, inuse_space
// (pprof shows the last by default), period runtime.MemProfileRate bytes,
// figures scaled for the sampling rate. Like runtime/pprof's "heap"
// profile, it reflects the heap as of the last completed GC and does not
// run one.
func writeHeapProfile(w io.Writer) error {
	var recs []runtime.MemProfileRecord
	for {
		n, _ := runtime.MemProfile(nil, true)
		recs = make([]runtime.MemProfileRecord, n+50) // room for records added meanwhile
		n, ok := runtime.MemProfile(recs, true)
		if ok {
			recs = recs[:n]
			break
		}
	}
	rate := int64(runtime.MemProfileRate)

	b := newHeapProfileBuilder()
	b.valueType(pfProfileSampleType, "alloc_objects", "count")
	b.valueType(pfProfileSampleType, "alloc_space", "bytes")
	b.valueType(pfProfileSampleType, "inuse_objects", "count")
	b.valueType(pfProfileSampleType, "inuse_space", "bytes")
	b.valueType(pfProfilePeriodType, "space", "bytes")
	b.out.uint(pfProfilePeriod, uint64(rate))
	b.out.uint(pfProfileTimeNanos, uint64(time.Now().UnixNano()))
	b.mapping()
	for i := range recs {
		b.sample(&recs[i], rate)
	}
	_, err := w.Write(b.out.b)
	return err
}
