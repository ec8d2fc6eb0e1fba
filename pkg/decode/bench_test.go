package decode

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/segport/segport/pkg/decode/internal/gen"
	"github.com/segport/segport/pkg/endpoint"
)

// benchRows is the size of the benchmark files: big enough to leave the caches,
// small enough to generate once per process.
const benchRows = 20000

var benchFiles = sync.OnceValue(func() map[Format][]byte {
	return map[Format][]byte{
		CSV:  gen.Rows(gen.CSV, 1, benchRows),
		JSON: gen.Rows(gen.JSON, 1, benchRows),
	}
})

// benchDecode times decodeAll over the benchmark file of format f and reports,
// besides ns/op and MB/s, the cost per row: ns/row, allocs/row and B/row.
func benchDecode(b *testing.B, f Format, decodeAll func(data []byte) (rows int)) {
	data := benchFiles()[f]
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rows := 0
	for b.Loop() {
		if n := decodeAll(data); n != benchRows {
			b.Fatalf("decoded %d rows, want %d", n, benchRows)
		}
		rows += benchRows
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(rows), "allocs/row")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(rows), "B/row")
}

// decodeWith decodes every row with d, failing on any error.
func decodeWith(b *testing.B, d Decoder) int {
	n := 0
	for {
		_, err := d.Decode()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkCSVDecode decodes and validates the generated CSV file.
func BenchmarkCSVDecode(b *testing.B) {
	benchDecode(b, CSV, func(data []byte) int {
		return decodeWith(b, NewCSV(bytes.NewReader(data), Options{}))
	})
}

// BenchmarkCSVBaseline merely reads the same file with encoding/csv.
func BenchmarkCSVBaseline(b *testing.B) {
	benchDecode(b, CSV, func(data []byte) int {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		n := -1 // the header
		for {
			_, err := r.Read()
			if err == io.EOF {
				return n
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	})
}

// BenchmarkCSVShape reads the same file with encoding/csv and makes of each row
// the objects CSVDecode returns (an Endpoint with its Location, Demographic and
// User, its maps and value lists, allocated as frugally as CSVDecode does) but
// checks and normalises no value: the least any decoder returning
// endpoint.Endpoint must do. It is not a goal's baseline; it shows how much of
// CSVDecode's time the shape of its result costs.
func BenchmarkCSVShape(b *testing.B) {
	benchDecode(b, CSV, func(data []byte) int {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		header, err := r.Read()
		if err != nil {
			b.Fatal(err)
		}
		var s shaper
		s.cols = make([]endpoint.Attr, len(header))
		s.repeats = make([]int, len(header))
		for i, name := range header {
			if s.cols[i], err = endpoint.Lookup(name); err != nil {
				b.Fatal(err)
			}
			for _, other := range header {
				if other == name {
					s.repeats[i]++
				}
			}
		}
		n := 0
		for {
			rec, err := r.Read()
			if err == io.EOF {
				return n
			}
			if err != nil {
				b.Fatal(err)
			}
			shapeSink = s.endpoint(rec)
			n++
		}
	})
}

var shapeSink *endpoint.Endpoint

// shaper puts the values of a record in an endpoint as they are.
type shaper struct {
	cols    []endpoint.Attr
	repeats []int    // columns of the same name
	vals    []string // backs the value lists, as in the Builder
}

func (s *shaper) endpoint(rec []string) *endpoint.Endpoint {
	p := new(struct {
		e    endpoint.Endpoint
		loc  endpoint.Location
		demo endpoint.Demographic
		user endpoint.User
	})
	e := &p.e
	e.Location, e.Demographic, e.User = &p.loc, &p.demo, &p.user
	for i, v := range rec {
		if v == "" {
			continue
		}
		switch a := s.cols[i]; a.Kind {
		case endpoint.KindAttribute:
			e.Attributes = s.add(e.Attributes, a.Custom, v, s.repeats[i])
		case endpoint.KindUserAttribute:
			p.user.UserAttributes = s.add(p.user.UserAttributes, a.Custom, v, s.repeats[i])
		case endpoint.KindMetric:
			if e.Metrics == nil {
				e.Metrics = make(map[string]float64)
			}
			e.Metrics[a.Custom] = float64(len(v))
		case endpoint.KindChannelType:
			e.ChannelType = v
		case endpoint.KindAddress:
			e.Address = v
		default:
			p.demo.Make = v // the other attributes cost a store each, wherever it goes
		}
	}
	return e
}

func (s *shaper) add(m map[string][]string, name, v string, room int) map[string][]string {
	if m == nil {
		m = make(map[string][]string)
	}
	l, ok := m[name]
	if !ok {
		if cap(s.vals)-len(s.vals) < room {
			s.vals = make([]string, 0, 64)
		}
		l = s.vals[len(s.vals) : len(s.vals) : len(s.vals)+room]
		s.vals = s.vals[:len(s.vals)+room]
	}
	m[name] = append(l, v)
	return m
}

// BenchmarkJSONDecode decodes and validates the generated NDJSON file.
func BenchmarkJSONDecode(b *testing.B) {
	benchDecode(b, JSON, func(data []byte) int {
		return decodeWith(b, NewJSON(bytes.NewReader(data), Options{}))
	})
}

// BenchmarkJSONBaseline unmarshals each line of the same file into a map with
// encoding/json.
func BenchmarkJSONBaseline(b *testing.B) {
	benchDecode(b, JSON, func(data []byte) int {
		s := bufio.NewScanner(bytes.NewReader(data))
		s.Buffer(make([]byte, 64*1024), defaultRowLimit)
		n := 0
		for s.Scan() {
			var m map[string]any
			if err := json.Unmarshal(s.Bytes(), &m); err != nil {
				b.Fatal(err)
			}
			n++
		}
		return n
	})
}

// BenchmarkPeakHeap decodes generated files of 100 MB and 1 GB, streamed, and
// reports the peak heap in use. Run it once: -bench=PeakHeap -benchtime=1x.
func BenchmarkPeakHeap(b *testing.B) {
	for _, f := range []Format{CSV, JSON} {
		for _, size := range []struct {
			name  string
			bytes int64
		}{{"100MB", 100e6}, {"1GB", 1e9}} {
			b.Run(string(f)+"/"+size.name, func(b *testing.B) {
				b.SetBytes(size.bytes)
				var peak uint64
				for b.Loop() {
					p, _, err := peakHeap(f, size.bytes)
					if err != nil {
						b.Fatal(err)
					}
					peak = max(peak, p)
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			})
		}
	}
}
