package decode

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/segport/segport/internal/decode/internal/gen"
	"github.com/segport/segport/pkg/job"
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
func benchDecode(b *testing.B, f Format, decodeAll pass) {
	data := benchFiles()[f]
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rows := 0
	for b.Loop() {
		if n := decodeAll(b, data); n != benchRows {
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

// The passes over a benchmark file: each decodes every row once and returns
// how many it decoded.

// csvDecode decodes and validates with segport, each endpoint in the memory of
// the one before (ReuseEndpoint), as the parser does and as csvRead reuses its
// records.
func csvDecode(b *testing.B, data []byte) int {
	return decodeWith(b, NewCSV(bytes.NewReader(data), Options{ReuseEndpoint: true}))
}

// csvDecodeBatch is csvDecode and, for each row, what the parser then does to
// batch it: its job.WriteRow's JSON.
func csvDecodeBatch(b *testing.B, data []byte) int {
	d := NewCSV(bytes.NewReader(data), Options{ReuseEndpoint: true})
	var buf []byte
	for n := 0; ; n++ {
		row, err := d.Decode()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		wr := job.WriteRow{Line: row.Line, Stamp: "2023-10-05T15:27:58.000Z.0000000001.000001.0000000042", Endpoint: row.Endpoint}
		if buf, err = wr.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// csvDecodeKeep is csvDecode with a new Endpoint for every row.
func csvDecodeKeep(b *testing.B, data []byte) int {
	return decodeWith(b, NewCSV(bytes.NewReader(data), Options{}))
}

// csvRead merely reads with encoding/csv, reusing its record (ReuseRecord): the
// fastest way encoding/csv reads.
func csvRead(b *testing.B, data []byte) int {
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
}

func jsonDecode(b *testing.B, data []byte) int {
	return decodeWith(b, NewJSON(bytes.NewReader(data), Options{ReuseEndpoint: true}))
}

func jsonDecodeKeep(b *testing.B, data []byte) int {
	return decodeWith(b, NewJSON(bytes.NewReader(data), Options{}))
}

// jsonUnmarshal unmarshals each line into a map with encoding/json.
func jsonUnmarshal(b *testing.B, data []byte) int {
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
}

func BenchmarkCSVDecode(b *testing.B)      { benchDecode(b, CSV, csvDecode) }
func BenchmarkCSVDecodeKeep(b *testing.B)  { benchDecode(b, CSV, csvDecodeKeep) }
func BenchmarkCSVBaseline(b *testing.B)    { benchDecode(b, CSV, csvRead) }
func BenchmarkJSONDecode(b *testing.B)     { benchDecode(b, JSON, jsonDecode) }
func BenchmarkJSONDecodeKeep(b *testing.B) { benchDecode(b, JSON, jsonDecodeKeep) }
func BenchmarkJSONBaseline(b *testing.B)   { benchDecode(b, JSON, jsonUnmarshal) }

// BenchmarkCSVRatio and BenchmarkJSONRatio time segport's pass and the baseline's
// in turn, a whole file each, and report the ratio of their total times. On a
// shared machine whose speed drifts from second to second, passes a few tens of
// milliseconds apart meet the same conditions, where benchmarks run one after
// the other do not.
func BenchmarkCSVRatio(b *testing.B) {
	benchRatio(b, CSV, map[string]pass{"segport": csvDecode, "keep": csvDecodeKeep, "batch": csvDecodeBatch,
		"encoding-csv": csvRead}, "encoding-csv")
}

func BenchmarkJSONRatio(b *testing.B) {
	benchRatio(b, JSON, map[string]pass{"segport": jsonDecode, "keep": jsonDecodeKeep, "encoding-json": jsonUnmarshal}, "encoding-json")
}

// pass decodes a whole benchmark file and returns the rows it decoded.
type pass func(b *testing.B, data []byte) int

// benchRatio runs the passes in turn, each once per iteration, and reports the
// time per row of each and the ratio of each to the baseline's.
func benchRatio(b *testing.B, f Format, passes map[string]pass, baseline string) {
	data := benchFiles()[f]
	names := make([]string, 0, len(passes))
	for name := range passes {
		names = append(names, name)
	}
	sort.Strings(names)
	spent := make(map[string]time.Duration, len(passes))
	rows := 0
	for b.Loop() {
		for _, name := range names {
			start := time.Now()
			if n := passes[name](b, data); n != benchRows {
				b.Fatalf("%s decoded %d rows, want %d", name, n, benchRows)
			}
			spent[name] += time.Since(start)
		}
		rows += benchRows
	}
	for _, name := range names {
		b.ReportMetric(float64(spent[name].Nanoseconds())/float64(rows), name+"-ns/row")
		if name != baseline {
			b.ReportMetric(float64(spent[name])/float64(spent[baseline]), name+"/"+baseline)
		}
	}
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

// benchNarrow is a file of narrow rows without Id (gen.Narrow): each row pays
// the fixed costs of a row (the derived Id, the address) that wide rows hide.
var benchNarrow = sync.OnceValue(func() []byte { return gen.Narrow(1, benchRows) })

func benchNarrowPass(b *testing.B, decodeAll pass) {
	data := benchNarrow()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		if n := decodeAll(b, data); n != benchRows {
			b.Fatalf("decoded %d rows, want %d", n, benchRows)
		}
		rows += benchRows
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

func BenchmarkCSVNarrowDecode(b *testing.B)   { benchNarrowPass(b, csvDecode) }
func BenchmarkCSVNarrowBaseline(b *testing.B) { benchNarrowPass(b, csvRead) }
