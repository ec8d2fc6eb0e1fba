package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 10, 0, time.UTC)
	piece, batch := 3, 7
	tests := []struct {
		name string
		rec  Record
		want map[string]any // values the line must hold
		not  []string       // keys it must not hold
	}{
		{
			name: "piece since job creation",
			rec:  Record{Handler: "Parser", Job: "j1", Piece: &piece, Rows: 5, Failures: 2, Batches: 1, Since: now.Add(-1500 * time.Millisecond)},
			want: map[string]any{"Function": "segport-parser", "handler": "Parser", "job": "j1", "piece": 3.0, "Rows": 5.0, "Failures": 2.0, "Batches": 1.0, "Errors": 0.0, "Retries": 0.0, "Latency": 1500.0},
			not:  []string{"batch"},
		},
		{
			name: "redelivered batch that failed",
			rec: Record{Handler: "Writer", Job: "j1", Piece: &piece, Batch: &batch, Rows: 10, Batches: 1, Err: errors.New("boom 2065550182"),
				Message: map[string]string{"ApproximateReceiveCount": "3", "SentTimestamp": "1793534408000"}},
			want: map[string]any{"batch": 7.0, "Errors": 1.0, "Retries": 2.0, "Latency": 2000.0},
		},
		{
			name: "job started, no piece",
			rec:  Record{Handler: "Trigger", Job: "j2", Pieces: 4},
			want: map[string]any{"Pieces": 4.0, "Latency": 0.0},
			not:  []string{"piece", "batch"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := &EMF{W: &buf, Function: "segport-parser", Now: func() time.Time { return now }}
			e.Record(tt.rec)
			if strings.Count(buf.String(), "\n") != 1 || strings.Contains(buf.String(), "boom") {
				t.Fatalf("want one line without the error text, got %q", buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range tt.not {
				if _, ok := got[k]; ok {
					t.Errorf("line has %s: %s", k, buf.String())
				}
			}
			checkEMF(t, got)
		})
	}
}

// checkEMF checks the EMF specification's rules: the metadata names a namespace,
// dimensions and metrics, and every one of them is a top-level member (metrics
// numeric).
func checkEMF(t *testing.T, obj map[string]any) {
	t.Helper()
	var meta struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	b, _ := json.Marshal(obj["_aws"])
	if err := json.Unmarshal(b, &meta); err != nil || meta.Timestamp == 0 || len(meta.CloudWatchMetrics) != 1 {
		t.Fatalf("_aws = %s (%v)", b, err)
	}
	d := meta.CloudWatchMetrics[0]
	if d.Namespace != Namespace || len(d.Metrics) == 0 {
		t.Fatalf("directive %+v", d)
	}
	for _, set := range d.Dimensions {
		for _, dim := range set {
			if _, ok := obj[dim].(string); !ok {
				t.Errorf("dimension %s is not a string member", dim)
			}
		}
	}
	for _, m := range d.Metrics {
		if _, ok := obj[m.Name].(float64); !ok {
			t.Errorf("metric %s is not a numeric member", m.Name)
		}
	}
}

func TestNilEMF(t *testing.T) {
	var e *EMF
	e.Record(Record{Handler: "Writer"}) // must not panic
}
