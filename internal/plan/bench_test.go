package plan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segport/segport/internal/decode"
)

// virtualCSV is a file of any size made of a header and one block of records
// repeated, read through ranges without ever being held in memory.
type virtualCSV struct {
	header, block []byte
	size          int64
}

func newVirtualCSV(size int64) *virtualCSV {
	var b bytes.Buffer
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "EMAIL,user%d@example.com,\"Lisbon, \"\"Old\"\"\nTown\",PRT,sports,books,%d,u%d,Ana\r\n", i, i, i%17)
	}
	v := &virtualCSV{
		header: []byte("ChannelType,Address,Location.City,Location.Country,Attributes.Tags,Attributes.Tags,Metrics.Visits,User.UserId,User.UserAttributes.Name\r\n"),
		block:  b.Bytes(),
	}
	// End on a whole block, so that the last record is complete.
	v.size = int64(len(v.header)) + (size-int64(len(v.header)))/int64(len(v.block))*int64(len(v.block))
	return v
}

func (v *virtualCSV) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) && off < v.size {
		var src []byte
		if off < int64(len(v.header)) {
			src = v.header[off:]
		} else {
			o := (off - int64(len(v.header))) % int64(len(v.block))
			src = v.block[o:]
		}
		src = src[:min(int64(len(src)), v.size-off)]
		c := copy(p[n:], src)
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (v *virtualCSV) open(_ context.Context, start, end int64) (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(v, start, end-start)), nil
}

// BenchmarkScan measures the planning scan: the CSV parser's states over the whole file.
func BenchmarkScan(b *testing.B) {
	v := newVirtualCSV(256 << 20)
	b.SetBytes(v.size)
	for i := 0; i < b.N; i++ {
		if _, err := Split(context.Background(), v.size, v.open, Options{PieceSize: 32 << 20, Quotes: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPiecesPeakHeap plans a generated 2 GB CSV and decodes it piece by piece,
// reporting the peak heap in use, which must not grow with the file.
func BenchmarkPiecesPeakHeap(b *testing.B) {
	for _, size := range []int64{256 << 20, 2 << 30} {
		b.Run(fmt.Sprintf("%dMB", size>>20), func(b *testing.B) {
			v := newVirtualCSV(size)
			for i := 0; i < b.N; i++ {
				peak := measurePeak(func() { decodePieces(b, v) })
				b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
			}
			b.SetBytes(size)
		})
	}
}

func decodePieces(b *testing.B, v *virtualCSV) {
	ctx := context.Background()
	pieces, err := Split(ctx, v.size, v.open, Options{PieceSize: 64 << 20, Quotes: true})
	if err != nil {
		b.Fatal(err)
	}
	header := []string{"ChannelType", "Address", "Location.City", "Location.Country", "Attributes.Tags", "Attributes.Tags", "Metrics.Visits", "User.UserId", "User.UserAttributes.Name"}
	for _, p := range pieces {
		opts := decode.Options{Line: p.Line, Offset: p.Start}
		if p.Start > 0 {
			opts.Header = header
		}
		rc, _ := v.open(ctx, p.Start, p.End)
		dec := decode.NewCSV(rc, opts)
		for {
			_, err := dec.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatalf("piece at %d: %v", p.Start, err)
			}
		}
	}
}

// measurePeak samples HeapInuse while fn runs.
func measurePeak(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	return peak.Load()
}
