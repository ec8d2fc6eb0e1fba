package localstack

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// defaultBatchSize is Lambda's SQS batch size when the template sets none.
const defaultBatchSize = 10

// EventSource is an SQS event source of a function in the template, with
// the local queue it reads.
type EventSource struct {
	Function                string        `json:"function"`
	Event                   string        `json:"event"`
	QueueLogicalID          string        `json:"queueLogicalId"`
	QueueURL                string        `json:"queueUrl"`
	QueueARN                string        `json:"queueArn"`
	BatchSize               int           `json:"batchSize"`
	BatchWindow             time.Duration `json:"batchWindow"`
	ReportBatchItemFailures bool          `json:"reportBatchItemFailures"`
}

// Mapping returns the event-source mapping that feeds this source's queue to h.
func (e EventSource) Mapping(h Handler) Mapping {
	return Mapping{
		QueueURL: e.QueueURL, BatchSize: e.BatchSize, BatchWindow: e.BatchWindow, Handler: h,
		IgnoreItemFailures: !e.ReportBatchItemFailures,
	}
}

// functionEvent is one entry of a function's Events.
type functionEvent struct {
	Type       string
	Properties map[string]any
}

// eventSources reads the functions' SQS and S3 events; the resolver must
// know the queues and buckets by then.
func eventSources(t *template, r *resolver) ([]EventSource, []s3Trigger, error) {
	var sqsSources []EventSource
	var triggers []s3Trigger
	for _, fn := range t.ofType(typeFunction) {
		var evs map[string]functionEvent
		if err := remarshal(t.Resources[fn].Properties["Events"], &evs); err != nil {
			return nil, nil, fmt.Errorf("function %s events: %w", fn, err)
		}
		names := make([]string, 0, len(evs))
		for name := range evs {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			ev := evs[name]
			var err error
			switch ev.Type {
			case "SQS":
				var s EventSource
				s, err = sqsSource(t, r, ev.Properties)
				s.Function, s.Event = fn, name
				sqsSources = append(sqsSources, s)
			case "S3":
				var tr s3Trigger
				tr, err = s3Source(r, ev.Properties)
				tr.configurationID, tr.function = fn+name, r.attrs[fn]["Arn"]
				triggers = append(triggers, tr)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("function %s event %s: %w", fn, name, err)
			}
		}
	}
	return sqsSources, triggers, nil
}

func sqsSource(t *template, r *resolver, props map[string]any) (EventSource, error) {
	arn, err := r.value(props["Queue"])
	if err != nil {
		return EventSource{}, fmt.Errorf("queue: %w", err)
	}
	s := EventSource{QueueARN: arn, BatchSize: defaultBatchSize}
	for _, id := range t.ofType(typeQueue) {
		if r.attrs[id]["Arn"] == arn {
			s.QueueLogicalID, s.QueueURL = id, r.attrs[id][""]
		}
	}
	if s.QueueURL == "" {
		return EventSource{}, fmt.Errorf("queue %s: %w", arn, errUnknownRef)
	}
	if s.BatchSize, err = intProperty(r, props, "BatchSize", defaultBatchSize); err != nil {
		return EventSource{}, err
	}
	window, err := intProperty(r, props, "MaximumBatchingWindowInSeconds", 0)
	if err != nil {
		return EventSource{}, err
	}
	s.BatchWindow = time.Duration(window) * time.Second
	var types []string
	remarshal(props["FunctionResponseTypes"], &types)
	s.ReportBatchItemFailures = slices.Contains(types, "ReportBatchItemFailures")
	return s, nil
}

func intProperty(r *resolver, props map[string]any, name string, def int) (int, error) {
	v, ok := props[name]
	if !ok {
		return def, nil
	}
	s, err := r.value(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// s3Properties is the SAM S3 event source's shape.
type s3Properties struct {
	Events any
	Filter struct {
		S3Key struct {
			Rules []struct{ Name, Value any }
		}
	}
}

func s3Source(r *resolver, props map[string]any) (s3Trigger, error) {
	var p s3Properties
	if err := remarshal(props, &p); err != nil {
		return s3Trigger{}, err
	}
	bucket, err := r.value(props["Bucket"])
	if err != nil {
		return s3Trigger{}, fmt.Errorf("bucket: %w", err)
	}
	tr := s3Trigger{bucket: bucket}
	switch e := p.Events.(type) {
	case string:
		tr.events = []string{e}
	case []any:
		for _, x := range e {
			s, _ := x.(string)
			tr.events = append(tr.events, s)
		}
	}
	for _, rule := range p.Filter.S3Key.Rules {
		name, _ := rule.Name.(string)
		value, err := r.value(rule.Value)
		if err != nil {
			return s3Trigger{}, fmt.Errorf("filter rule %s: %w", name, err)
		}
		switch name {
		case "prefix":
			tr.prefix = value
		case "suffix":
			tr.suffix = value
		}
	}
	return tr, nil
}
