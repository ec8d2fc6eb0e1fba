// Package stats holds what an import cost: the requests it made to each AWS
// service, the DynamoDB capacity units they consumed, the Lambda time it took,
// and the price of all that. It does no I/O: internal/meter counts the requests, the
// Jobs table keeps the counts (internal/dynamo), and this package adds them up and
// prices them.
package stats

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Stats are the figures of one job, or of one invocation's share of it.
type Stats struct {
	// Requests counts every HTTP request segport's code sent and got an answer
	// to, by "Service.Operation" ("DynamoDB.PutItem"): SDK retries, conditional
	// writes that failed and the work of redelivered messages included, since
	// AWS bills those too.
	Requests map[string]int64 `json:"Requests"`
	// DynamoDBWriteUnits and DynamoDBReadUnits are the capacity units consumed,
	// as DynamoDB reported them (ReturnConsumedCapacity TOTAL) or, where it
	// reported none, computed from item sizes; DynamoDBComputedUnits is how many
	// of them (read and write) were computed.
	DynamoDBWriteUnits    float64 `json:"DynamoDBWriteUnits"`
	DynamoDBReadUnits     float64 `json:"DynamoDBReadUnits"`
	DynamoDBComputedUnits float64 `json:"DynamoDBComputedUnits"`
	// SQSRequests are segport's SQS requests plus those of the Lambda
	// event-source mappings that delivered its messages (one receive and one
	// delete per invocation, estimated); SQSBilledRequests counts them as SQS
	// bills them, one per 64 KiB chunk of payload.
	SQSRequests       int64 `json:"SQSRequests"`
	SQSBilledRequests int64 `json:"SQSBilledRequests"`
	// S3GetRequests are GET-class requests (GetObject, HeadObject);
	// S3PutRequests are PUT-class ones (PutObject, CopyObject, List*, the
	// multipart upload calls).
	S3GetRequests int64 `json:"S3GetRequests"`
	S3PutRequests int64 `json:"S3PutRequests"`
	// LambdaInvocations are the function invocations that worked on the job;
	// LambdaMilliseconds their duration, measured around each handler call;
	// LambdaGBSeconds the duration times the functions' memory.
	LambdaInvocations  int64   `json:"LambdaInvocations"`
	LambdaMilliseconds float64 `json:"LambdaMilliseconds"`
	LambdaGBSeconds    float64 `json:"LambdaGBSeconds"`
	// EstimatedCostUSD is the price of the figures above at Prices; it is
	// computed when the stats are read (WithCost), not stored.
	EstimatedCostUSD float64 `json:"EstimatedCostUSD"`
}

// Add adds o's figures to s.
func (s *Stats) Add(o Stats) {
	if len(o.Requests) > 0 && s.Requests == nil {
		s.Requests = make(map[string]int64, len(o.Requests))
	}
	for k, n := range o.Requests {
		s.Requests[k] += n
	}
	s.DynamoDBWriteUnits += o.DynamoDBWriteUnits
	s.DynamoDBReadUnits += o.DynamoDBReadUnits
	s.DynamoDBComputedUnits += o.DynamoDBComputedUnits
	s.SQSRequests += o.SQSRequests
	s.SQSBilledRequests += o.SQSBilledRequests
	s.S3GetRequests += o.S3GetRequests
	s.S3PutRequests += o.S3PutRequests
	s.LambdaInvocations += o.LambdaInvocations
	s.LambdaMilliseconds += o.LambdaMilliseconds
	s.LambdaGBSeconds += o.LambdaGBSeconds
	s.EstimatedCostUSD += o.EstimatedCostUSD
}

// Clone returns a copy of s that shares nothing with it.
func (s Stats) Clone() Stats {
	s.Requests = maps.Clone(s.Requests)
	return s
}

// Service returns the requests made to one service ("DynamoDB", "SQS", "S3").
func (s Stats) Service(name string) int64 {
	var n int64
	for k, v := range s.Requests {
		if svc, _, _ := strings.Cut(k, "."); svc == name {
			n += v
		}
	}
	return n
}

// Prices are the unit prices EstimatedCostUSD is computed with, in US dollars.
type Prices struct {
	DynamoDBWritePerMillion float64 // on-demand write request units
	DynamoDBReadPerMillion  float64 // on-demand read request units
	SQSPerMillion           float64 // standard queue requests (64 KiB chunks)
	LambdaPerGBSecond       float64 // arm64 duration
	LambdaPerMillion        float64 // invocations
	S3GetPerThousand        float64 // GET, SELECT and other requests
	S3PutPerThousand        float64 // PUT, COPY, POST, LIST requests
}

// DefaultPrices are us-east-1 on-demand prices, from the AWS pricing pages of
// DynamoDB (on-demand capacity), SQS (standard queues, beyond the free tier),
// Lambda (arm64, first pricing tier) and S3 (S3 Standard requests). README.md
// says where each comes from.
var DefaultPrices = Prices{
	DynamoDBWritePerMillion: 0.625,
	DynamoDBReadPerMillion:  0.125,
	SQSPerMillion:           0.40,
	LambdaPerGBSecond:       0.0000133334,
	LambdaPerMillion:        0.20,
	S3GetPerThousand:        0.0004,
	S3PutPerThousand:        0.005,
}

// Cost is the price of s at p.
func (p Prices) Cost(s Stats) float64 {
	return s.DynamoDBWriteUnits/1e6*p.DynamoDBWritePerMillion +
		s.DynamoDBReadUnits/1e6*p.DynamoDBReadPerMillion +
		float64(s.SQSBilledRequests)/1e6*p.SQSPerMillion +
		s.LambdaGBSeconds*p.LambdaPerGBSecond +
		float64(s.LambdaInvocations)/1e6*p.LambdaPerMillion +
		float64(s.S3GetRequests)/1e3*p.S3GetPerThousand +
		float64(s.S3PutRequests)/1e3*p.S3PutPerThousand
}

// WithCost returns s with EstimatedCostUSD set from p.
func (p Prices) WithCost(s Stats) Stats {
	s.EstimatedCostUSD = p.Cost(s)
	return s
}

// ParsePrices returns DefaultPrices with the overrides of spec: comma-separated
// Name=USD pairs, Name a field of Prices, e.g.
// "DynamoDBWritePerMillion=0.7625,SQSPerMillion=0.5".
func ParsePrices(spec string) (Prices, error) {
	p := DefaultPrices
	v := reflect.ValueOf(&p).Elem()
	for _, kv := range strings.Split(spec, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		name, val, ok := strings.Cut(kv, "=")
		f := v.FieldByName(strings.TrimSpace(name))
		if !ok || !f.IsValid() {
			return p, fmt.Errorf("prices: %q is not Name=USD with Name one of %s", kv, priceNames())
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || x < 0 || math.IsInf(x, 0) {
			return p, fmt.Errorf("prices: %s: not a price: %q", name, val)
		}
		f.SetFloat(x)
	}
	return p, nil
}

func priceNames() string {
	t := reflect.TypeFor[Prices]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Name
	}
	return strings.Join(names, ", ")
}
