package decode

import (
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/segport/segport/internal/decode/internal/gen"
)

// peakHeap decodes a generated file of size bytes in format f, streamed from the
// generator, and returns the largest HeapInuse seen, sampled every 256 rows.
func peakHeap(f Format, size int64) (peak uint64, rows int, err error) {
	runtime.GC()
	var ms runtime.MemStats
	d := New(f, gen.NewReader(genFormat(f), 1, size), Options{})
	for {
		_, err := d.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, rows, fmt.Errorf("decode generated row %d: %w", rows+1, err)
		}
		if rows++; rows%256 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	return peak, rows, nil
}

// TestBoundedHeap checks that decoding 50 MB keeps the heap under 32 MiB. The
// 100 MB and 1 GB measurements are in BenchmarkPeakHeap (make bench).
func TestBoundedHeap(t *testing.T) {
	for _, f := range []Format{CSV, JSON} {
		t.Run(string(f), func(t *testing.T) {
			peak, rows, err := peakHeap(f, 50e6)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d rows, peak heap %.1f MiB", rows, float64(peak)/(1<<20))
			if peak > 32<<20 {
				t.Fatalf("peak heap %.1f MiB, want under 32 MiB", float64(peak)/(1<<20))
			}
		})
	}
}
