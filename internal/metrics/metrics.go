// Package metrics writes the handlers' measurements in CloudWatch Embedded Metric
// Format (EMF): one JSON object per line on the function's standard output. Lambda
// sends the line to CloudWatch Logs, which extracts the metrics from it, so
// publishing costs no API call and no cloudwatch:PutMetricData permission.
package metrics

import (
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of segport's metrics.
const Namespace = "segport"

// Record is what one handled unit of work measured: a job started (Trigger), a
// piece parsed (Parser) or a batch handled (Writer). Ids and counts only: a record
// never carries row content.
type Record struct {
	Handler string // Trigger, Parser or Writer
	Job     string
	Piece   *int // the piece and batch the record is about, if any
	Batch   *int

	Pieces   int // pieces queued
	Rows     int // valid rows parsed, or rows in the batch
	Failures int // rows that failed validation
	Batches  int // write batches sent or handled
	// Err is the error the unit ended with; it counts as one in the Errors
	// metric (the unit will be retried) and its text is not written.
	Err error
	// Since is when the work began (the job's creation): Latency is the time
	// from then to the record.
	Since time.Time
	// Message holds the SQS message attributes of the unit, if it came from a
	// queue: Retries is ApproximateReceiveCount − 1, and without Since, Latency
	// runs from SentTimestamp.
	Message map[string]string
}

// EMF writes Records as EMF lines to W.
type EMF struct {
	W io.Writer
	// Function is the metrics' dimension: the Lambda function's name, so that
	// two stacks in one account keep their metrics apart. Empty: the handler.
	Function string
	Now      func() time.Time

	mu sync.Mutex
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// metricDefs are the metrics of every record.
var metricDefs = []metricDef{
	{"Pieces", "Count"}, {"Rows", "Count"}, {"Failures", "Count"}, {"Batches", "Count"},
	{"Errors", "Count"}, {"Retries", "Count"}, {"Latency", "Milliseconds"},
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type envelope struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// line is one EMF object: the metadata, the dimension, properties and values.
type line struct {
	AWS      envelope `json:"_aws"`
	Function string   `json:"Function"`
	Handler  string   `json:"handler"`
	Job      string   `json:"job,omitempty"`
	Piece    *int     `json:"piece,omitempty"`
	Batch    *int     `json:"batch,omitempty"`
	Pieces   int      `json:"Pieces"`
	Rows     int      `json:"Rows"`
	Failures int      `json:"Failures"`
	Batches  int      `json:"Batches"`
	Errors   int      `json:"Errors"`
	Retries  int      `json:"Retries"`
	Latency  float64  `json:"Latency"`
}

// Record writes r as one line. A nil EMF records nothing.
func (e *EMF) Record(r Record) {
	if e == nil || e.W == nil {
		return
	}
	now := time.Now()
	if e.Now != nil {
		now = e.Now()
	}
	fn := e.Function
	if fn == "" {
		fn = r.Handler
	}
	l := line{
		AWS: envelope{Timestamp: now.UnixMilli(), CloudWatchMetrics: []directive{{
			Namespace: Namespace, Dimensions: [][]string{{"Function"}}, Metrics: metricDefs,
		}}},
		Function: fn, Handler: r.Handler, Job: r.Job, Piece: r.Piece, Batch: r.Batch,
		Pieces: r.Pieces, Rows: r.Rows, Failures: r.Failures, Batches: r.Batches,
	}
	if r.Err != nil {
		l.Errors = 1
	}
	if n, err := strconv.Atoi(r.Message["ApproximateReceiveCount"]); err == nil && n > 1 {
		l.Retries = n - 1
	}
	since := r.Since
	if ms, err := strconv.ParseInt(r.Message["SentTimestamp"], 10, 64); since.IsZero() && err == nil {
		since = time.UnixMilli(ms)
	}
	if !since.IsZero() {
		l.Latency = max(float64(now.Sub(since).Microseconds())/1000, 0)
	}
	b, _ := json.Marshal(l) // plain strings and numbers: it cannot fail
	e.mu.Lock()
	defer e.mu.Unlock()
	e.W.Write(append(b, '\n'))
}
