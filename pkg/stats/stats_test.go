package stats

import (
	"math"
	"testing"
)

func TestUnits(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"write, empty item", WriteUnits(0), 1},
		{"write, 1 KB", WriteUnits(1024), 1},
		{"write, 1 KB + 1", WriteUnits(1025), 2},
		{"read, consistent 4 KB", ReadUnits(4096, true), 1},
		{"read, consistent 4 KB + 1", ReadUnits(4097, true), 2},
		{"read, eventual 4 KB + 1", ReadUnits(4097, false), 1},
		{"read, eventual, nothing", ReadUnits(0, false), 0.5},
		{"sqs, empty", float64(SQSBilled(0)), 1},
		{"sqs, 64 KiB", float64(SQSBilled(64 << 10)), 1},
		{"sqs, 255 KiB", float64(SQSBilled(255 << 10)), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestCost(t *testing.T) {
	// A million endpoints at the floor: 2 write units each, nothing else.
	if got := DefaultPrices.Cost(Stats{DynamoDBWriteUnits: 2e6}); math.Abs(got-1.25) > 1e-9 {
		t.Errorf("floor: got %v, want 1.25", got)
	}
	s := Stats{DynamoDBReadUnits: 1e6, SQSBilledRequests: 1e6, LambdaGBSeconds: 1e6, LambdaInvocations: 1e6,
		S3GetRequests: 1000, S3PutRequests: 1000}
	want := 0.125 + 0.40 + 13.3334 + 0.20 + 0.0004 + 0.005
	if got := DefaultPrices.Cost(s); math.Abs(got-want) > 1e-9 {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParsePrices(t *testing.T) {
	tests := []struct {
		spec    string
		want    Prices
		wantErr bool
	}{
		{"", DefaultPrices, false},
		{"DynamoDBWritePerMillion=1.25, SQSPerMillion=0.5", func() Prices {
			p := DefaultPrices
			p.DynamoDBWritePerMillion, p.SQSPerMillion = 1.25, 0.5
			return p
		}(), false},
		{"Nope=1", DefaultPrices, true},
		{"SQSPerMillion", DefaultPrices, true},
		{"SQSPerMillion=-1", DefaultPrices, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParsePrices(tt.spec)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAddAndCounter(t *testing.T) {
	c := NewCounter("j")
	c.Request("SQS", "SendMessageBatch", 4)
	c.Request("S3", "GetObject", 0)
	c.Request("S3", "PutObject", 0)
	c.Request("S3", "DeleteObject", 0)
	c.Units(1, 0.5, true)
	var total Stats
	total.Add(c.Stats())
	total.Add(c.Stats())
	if total.Requests["SQS.SendMessageBatch"] != 2 || total.SQSBilledRequests != 8 || total.S3GetRequests != 2 ||
		total.S3PutRequests != 2 || total.DynamoDBComputedUnits != 3 || total.Service("S3") != 6 {
		t.Errorf("%+v", total)
	}
}
