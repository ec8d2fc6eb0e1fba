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

// BenchmarkCSVDecode decodes and validates the generated CSV file, each endpoint
// in the memory of the one before (ReuseEndpoint), as the parser does and as the
// baseline reuses its records.
func BenchmarkCSVDecode(b *testing.B) {
	benchDecode(b, CSV, func(data []byte) int {
		return decodeWith(b, NewCSV(bytes.NewReader(data), Options{ReuseEndpoint: true}))
	})
}

// BenchmarkCSVDecodeKeep is BenchmarkCSVDecode with a new Endpoint for every row,
// for callers that keep them.
func BenchmarkCSVDecodeKeep(b *testing.B) {
	benchDecode(b, CSV, func(data []byte) int {
		return decodeWith(b, NewCSV(bytes.NewReader(data), Options{}))
	})
}

// BenchmarkCSVBaseline merely reads the same file with encoding/csv, reusing its
// record (ReuseRecord): the fastest way encoding/csv reads.
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

// BenchmarkJSONDecode decodes and validates the generated NDJSON file, reusing
// the endpoint's memory as BenchmarkCSVDecode does.
func BenchmarkJSONDecode(b *testing.B) {
	benchDecode(b, JSON, func(data []byte) int {
		return decodeWith(b, NewJSON(bytes.NewReader(data), Options{ReuseEndpoint: true}))
	})
}

// BenchmarkJSONDecodeKeep is BenchmarkJSONDecode with a new Endpoint for every row.
func BenchmarkJSONDecodeKeep(b *testing.B) {
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
