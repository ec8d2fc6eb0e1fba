package main

// The pipeline benchmark: N generated endpoints imported on the local stack,
// and the same DynamoDB requests issued directly to dynalite by a minimal loop
// at the same concurrency, in one run. Its section of the report gives the
// throughput ratio, the requests and units per endpoint (from the job's Stats)
// and the cost per million endpoints.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/internal/meter"
	"github.com/segport/segport/internal/sqsq"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/stats"
)

// Settings of the local run that the ceiling loop copies.
const (
	benchPollers   = 2 // localrun's pollers per event-source mapping
	lambdaMemoryGB = 0.25
	// lambdaFullCPUMB is the memory at which Lambda gives a function one
	// whole vCPU; below it the CPU share is memory/1769.
	lambdaFullCPUMB = 1769
)

type pipelineRun struct {
	endpoints     int
	fileBytes     int
	batches       int
	pipelineTime  time.Duration
	ceilingTime   time.Duration   // the faster of ceilingTimes
	ceilingTimes  []time.Duration // before and after the pipeline
	pipelineStats stats.Stats     // the job's Stats
	ceilingStats  stats.Stats     // the loop's requests, counted the same way
	cpu           time.Duration   // process CPU time during the pipeline run
	ceilingCPU    time.Duration   // and during the faster ceiling run
	puts          int             // conditional puts in flight per batch (the writer's Concurrency)
	load          []string        // the 1-minute load average after each phase
	redelivered   int64           // pipeline messages delivered more than once
}

var cpuProfile = flag.String("pipeline-cpuprofile", "", "write a CPU profile of the pipeline run (not the ceiling) to this file")

// runPipeline measures the ceiling first, then the pipeline, on one fresh stack;
// the two write different endpoints into different segments.
func runPipeline(ctx context.Context, n int) (*pipelineRun, error) {
	dir, err := os.MkdirTemp("", "segport-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The local stack's default visibility timeout (30 s) is well above the
	// second or two a writer invocation takes over its one batch.
	var redelivered atomic.Int64
	rt, err := localrun.Open(ctx, localrun.Options{DataDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Wrap: func(_ localstack.EventSource, h localstack.Handler) localstack.Handler {
			return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				for _, m := range ev.Records {
					if m.Attributes["ApproximateReceiveCount"] != "1" {
						redelivered.Add(1)
					}
				}
				return h(ctx, ev)
			}
		}})
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	res := &pipelineRun{endpoints: n, puts: rt.App.Writer.Concurrency}
	if res.puts <= 0 {
		res.puts = 8 // importer.Writer's default
	}

	// dynalite runs faster once warm (V8 compiles its hot paths): a small
	// untimed run first; then the ceiling before and after the pipeline, and
	// the faster of the two counts.
	fmt.Fprintf(os.Stderr, "pipeline: warming dynalite up\n")
	if err := runCeiling(ctx, rt, min(n/5, 10000), &pipelineRun{puts: res.puts}, "warm-up"); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	fmt.Fprintf(os.Stderr, "pipeline: the ceiling loop over %d endpoints\n", n)
	if err := runCeiling(ctx, rt, n, res, "ceiling-before"); err != nil {
		return nil, fmt.Errorf("ceiling loop: %w", err)
	}
	res.ceilingTimes = []time.Duration{res.ceilingTime}
	res.load = append(res.load, loadAverage())
	fmt.Fprintf(os.Stderr, "pipeline: importing %d endpoints\n", n)
	file := generate("pipeline", n)
	res.fileBytes = len(file)
	id := job.NewId("bench", "pipeline", time.Now().String())
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	cpu0 := cpuTime()
	start := time.Now()
	_, err = rt.Stack.S3Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(rt.Stack.Bucket), Key: aws.String(importer.ImportsPrefix + "bench-pipeline/endpoints.csv"),
		Body: bytes.NewReader(file), Metadata: map[string]string{importer.MetaJobId: id},
	})
	if err != nil {
		return nil, err
	}
	j, err := waitFinal(ctx, rt.App.Store, id)
	if err != nil {
		return nil, err
	}
	res.pipelineTime = time.Since(start)
	res.cpu = cpuTime() - cpu0
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	res.load = append(res.load, loadAverage())
	if j.JobStatus != job.Completed || j.TotalProcessed != n {
		return nil, fmt.Errorf("pipeline job ended %s with %d of %d endpoints: %v", j.JobStatus, j.TotalProcessed, n, j.Failures)
	}
	if err := rt.Idle(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "pipeline: the ceiling loop again\n")
	again := &pipelineRun{puts: res.puts}
	if err := runCeiling(ctx, rt, n, again, "ceiling-after"); err != nil {
		return nil, fmt.Errorf("ceiling loop: %w", err)
	}
	res.load = append(res.load, loadAverage())
	res.ceilingTimes = append(res.ceilingTimes, again.ceilingTime)
	if again.ceilingTime < res.ceilingTime {
		res.ceilingTime, res.ceilingStats, res.ceilingCPU = again.ceilingTime, again.ceilingStats, again.ceilingCPU
	}
	res.redelivered = redelivered.Load()
	if res.pipelineStats, err = rt.App.Store.Usage(ctx, id); err != nil {
		return nil, err
	}
	pieces, err := rt.App.Store.Pieces(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, p := range pieces {
		res.batches += p.Result.Batches
	}
	return res, nil
}

func waitFinal(ctx context.Context, st *dynamo.Store, id string) (*job.Job, error) {
	for {
		j, err := st.Job(ctx, id)
		if err == nil && j.JobStatus.Final() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("job %s did not end: %w", id, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// generate writes n new endpoints of a few hundred bytes as CSV: an e-mail or
// SMS address, location, demographics, two custom attributes and a metric; no
// user, so that every row is one endpoint item and one member item. Files of
// different names hold different endpoints.
func generate(name string, n int) []byte {
	base := 0
	for _, c := range name {
		base = (base*31 + int(c)) % 1000
	}
	var b bytes.Buffer
	b.WriteString("ChannelType,Address,Location.Country,Location.City,Demographic.Platform,Demographic.Make,Attributes.Interests,Attributes.Plan,Metrics.Score\n")
	countries := []string{"USA", "CAN", "MEX", "FRA", "DEU", "JPN", "BRA", "IND"}
	platforms := []string{"ios", "android", "web"}
	for i := range n {
		if i%3 == 2 {
			fmt.Fprintf(&b, "SMS,+1%03d%07d,", base, i)
		} else {
			fmt.Fprintf(&b, "EMAIL,%s-%07d@example.com,", name, i)
		}
		fmt.Fprintf(&b, "%s,City %d,%s,Make %d,topic-%d,plan-%d,%d.%d\n",
			countries[i%len(countries)], i%500, platforms[i%len(platforms)], i%40, i%97, i%5, i%1000, i%10)
	}
	return b.Bytes()
}

// runCeiling issues the writer's DynamoDB requests for n new endpoints directly,
// at the pipeline's concurrency: per write batch (cut as the parser cuts them)
// a consistent BatchGetItem of its endpoints, a conditional PutItem for each,
// BatchWriteItem of its members and the batch's UpdateItem and usage PutItem on
// the job; at the end the members' count. Every item is built before the clock
// starts, so nothing but the requests is timed.
func runCeiling(ctx context.Context, rt *localrun.Runtime, n int, res *pipelineRun, name string) error {
	batches, err := ceilingBatches(generate(name, n))
	if err != nil {
		return err
	}
	cfg := rt.App.Config
	store := dynamo.New(dynamodb.NewFromConfig(meter.Config(rt.Stack.AWSConfig())), cfg.Tables, cfg.Shards)
	c := stats.NewCounter("ceiling")
	ctx = stats.NewContext(ctx, c)
	jobId, segmentId := "bench-"+name, "bench-"+name
	if err := store.StartJob(ctx, jobId, job.Launch{}, []job.Piece{{}}); err != nil { // the piece the batches are recorded on
		return err
	}
	work := make(chan int)
	errs := make(chan error, benchPollers)
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for range benchPollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range work {
				if err := ceilingBatch(ctx, store, jobId, segmentId, seq, batches[seq], res.puts); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for seq := range batches {
		work <- seq
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if _, err := store.CountMembers(ctx, segmentId, cfg.Shards); err != nil {
		return err
	}
	res.ceilingTime = time.Since(start)
	res.ceilingCPU = cpuTime() - cpu0
	res.ceilingStats = c.Stats()
	// The usage records count their own writes, as the pipeline's do.
	own, err := store.Usage(stats.Detach(ctx), jobId)
	if err != nil {
		return err
	}
	res.ceilingStats.Add(own)
	return nil
}

func ceilingBatch(ctx context.Context, store *dynamo.Store, jobId, segmentId string, seq int, recs []*merge.Endpoint, puts int) error {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.E.Id
	}
	if _, err := store.GetEndpoints(ctx, ids); err != nil {
		return err
	}
	sem := make(chan struct{}, puts)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, r := range recs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := store.PutEndpoint(ctx, r, 0); err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	added, err := store.AddMembers(ctx, segmentId, 0, 0, fmt.Sprintf("%s#0#%d", jobId, seq), ids, nil)
	if err != nil {
		return err
	}
	tally := job.Tally{New: added}
	for _, r := range recs {
		tally.Count(r.E.ChannelType)
	}
	if _, err := store.BatchDone(ctx, jobId, 0, seq, tally); err != nil {
		return err
	}
	return store.RecordUsage(ctx, jobId, fmt.Sprintf("batch#%d", seq), stats.Stats{})
}

// ceilingBatches decodes the file and cuts its rows into write batches as the
// parser does (a size bound on the encoded rows), with each row's endpoint
// merged into a new record as the writer would.
func ceilingBatches(file []byte) ([][]*merge.Endpoint, error) {
	created := time.Now()
	order := job.Order(created, "bench-ceiling")
	dec := decode.New(decode.CSV, bytes.NewReader(file), decode.Options{File: "ceiling.csv"})
	limit := sqsq.MaxMessageBytes - 1024
	var batches [][]*merge.Endpoint
	var cur []*merge.Endpoint
	size := 0
	for {
		row, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		stamp := job.Stamp(created, order, 0, row.Line)
		b, err := json.Marshal(job.WriteRow{Line: row.Line, Stamp: stamp, Endpoint: row.Endpoint})
		if err != nil {
			return nil, err
		}
		if len(cur) > 0 && size+len(b)+1 > limit {
			batches = append(batches, cur)
			cur, size = nil, 0
		}
		rec := merge.NewEndpoint(row.Endpoint.Id)
		rec.Apply(row.Endpoint, stamp)
		cur = append(cur, rec)
		size += len(b) + 1
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, nil
}

// cpuTime is the CPU time this process has used: the handlers, the emulated
// event-source mappings and the in-process S3 emulator (the SQS and DynamoDB
// emulators are other processes).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pipelineHeading starts the report's section on the pipeline.
const pipelineHeading = "# Pipeline throughput and cost"

// renderPipeline is the report's section on the pipeline.
func renderPipeline(r *pipelineRun) []byte {
	var b bytes.Buffer
	n := float64(r.endpoints)
	s := r.pipelineStats
	perMillion := 1e6 / n
	pipeRate := n / r.pipelineTime.Seconds()
	ceilRate := n / r.ceilingTime.Seconds()
	ratio := pipeRate / ceilRate
	wu := s.DynamoDBWriteUnits / n
	sqsPer1000 := float64(s.SQSRequests) / n * 1000
	billedPer1000 := float64(s.SQSBilledRequests) / n * 1000
	cpuPerMillion := r.cpu.Seconds() * perMillion
	gbsCPU := cpuPerMillion * lambdaMemoryGB
	gbsThrottled := gbsCPU * lambdaFullCPUMB / (lambdaMemoryGB * 1024)
	p := stats.DefaultPrices
	cost := map[string]float64{
		"DynamoDB writes":   s.DynamoDBWriteUnits * perMillion / 1e6 * p.DynamoDBWritePerMillion,
		"DynamoDB reads":    s.DynamoDBReadUnits * perMillion / 1e6 * p.DynamoDBReadPerMillion,
		"SQS":               float64(s.SQSBilledRequests) * perMillion / 1e6 * p.SQSPerMillion,
		"Lambda requests":   float64(s.LambdaInvocations) * perMillion / 1e6 * p.LambdaPerMillion,
		"Lambda duration":   gbsThrottled * p.LambdaPerGBSecond,
		"S3":                (float64(s.S3GetRequests)*p.S3GetPerThousand + float64(s.S3PutRequests)*p.S3PutPerThousand) / 1e3 * perMillion,
		"Lambda (measured)": s.LambdaGBSeconds * perMillion * p.LambdaPerGBSecond,
	}
	total := 0.0
	for k, v := range cost {
		if k != "Lambda (measured)" {
			total += v
		}
	}
	floor := 2 * p.DynamoDBWritePerMillion

	fmt.Fprintf(&b, "\n%s\n\n", pipelineHeading)
	fmt.Fprintf(&b, "%s endpoints generated as one %.1f MB CSV file (e-mail and SMS addresses, location, demographics, two custom\n"+
		"attributes and a metric; no user), imported on the local stack (gofakes3, fauxqs, dynalite) in one run, with\n"+
		"the ceiling measured on the same stack before and after it, once dynalite is warm. %d write batches (%.0f endpoints, about %d KiB, each); %d pollers per\n"+
		"event-source mapping, %d conditional puts in flight per batch. Machine: %d CPUs, %s.\n\n",
		commas(r.endpoints), float64(r.fileBytes)/1e6, r.batches, n/float64(max(r.batches, 1)),
		(sqsq.MaxMessageBytes-1024)>>10, benchPollers, r.puts, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&b, "The machine is shared: its 1-minute load average was %s after the ceiling, the pipeline and the\n"+
		"second ceiling run; the ratio below takes the faster ceiling run, the less favourable to the pipeline.\n"+
		"Messages delivered more than once during the pipeline run (each waited out the 30 s visibility timeout): %d.\n\n",
		strings.Join(r.load, ", "), r.redelivered)

	fmt.Fprintf(&b, "| Throughput | Endpoints/s | Seconds |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(&b, "| Pipeline: upload to job COMPLETED (trigger, parser, SQS, writer, finish) | %.0f | %.1f |\n", pipeRate, r.pipelineTime.Seconds())
	fmt.Fprintf(&b, "| Ceiling: the same DynamoDB requests straight to dynalite, same concurrency (faster of %s) | %.0f | %.1f |\n",
		seconds(r.ceilingTimes), ceilRate, r.ceilingTime.Seconds())

	fmt.Fprintf(&b, "\n| Goal | Measured | Goal | Met |\n| --- | ---: | ---: | --- |\n")
	fmt.Fprintf(&b, "| Pipeline / ceiling throughput | %.2f | ≥ 0.8 | %s |\n", ratio, yes(ratio >= 0.8))
	fmt.Fprintf(&b, "| DynamoDB write units per new endpoint (< 1 KB) | %.3f | 2 + a small constant per batch | %s |\n", wu, yes(wu <= 2.05))
	fmt.Fprintf(&b, "| SQS requests per 1,000 endpoints | %.2f | ≤ 10 | %s |\n", sqsPer1000, yes(sqsPer1000 <= 10))
	fmt.Fprintf(&b, "| Cost per million endpoints | $%.3f | floor $%.2f (2 write units each) | %.2f× the floor |\n", total, floor, total/floor)

	fmt.Fprintf(&b, "\n| Per endpoint, from the job's Stats | Pipeline | Ceiling loop |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(&b, "| DynamoDB write units | %.3f | %.3f |\n", wu, r.ceilingStats.DynamoDBWriteUnits/n)
	fmt.Fprintf(&b, "| DynamoDB read units | %.3f | %.3f |\n", s.DynamoDBReadUnits/n, r.ceilingStats.DynamoDBReadUnits/n)
	fmt.Fprintf(&b, "| CPU time of this process (µs) | %.0f | %.0f |\n", r.cpu.Seconds()/n*1e6, r.ceilingCPU.Seconds()/n*1e6)
	ops := map[string]bool{}
	for op := range s.Requests {
		ops[op] = true
	}
	for op := range r.ceilingStats.Requests {
		ops[op] = true
	}
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		fmt.Fprintf(&b, "| %s requests per 1,000 | %.2f | %.2f |\n", op, float64(s.Requests[op])/n*1000, float64(r.ceilingStats.Requests[op])/n*1000)
	}
	fmt.Fprintf(&b, "| SQS requests per 1,000 (segport's sends, and the event-source mappings' receives and deletes, estimated) | %.2f | |\n", sqsPer1000)
	fmt.Fprintf(&b, "| SQS billed requests per 1,000 (64 KiB chunks) | %.2f | |\n", billedPer1000)

	fmt.Fprintf(&b, "\n| Lambda, per million endpoints | |\n| --- | ---: |\n")
	fmt.Fprintf(&b, "| Invocations | %.0f |\n", float64(s.LambdaInvocations)*perMillion)
	fmt.Fprintf(&b, "| Handler CPU time (process CPU during the pipeline run) | %.1f s |\n", cpuPerMillion)
	fmt.Fprintf(&b, "| GB-s at 256 MB, from that CPU time | %.1f |\n", gbsCPU)
	fmt.Fprintf(&b, "| GB-s at 256 MB, CPU-bound at 256 MB's CPU share (256/1769 of a vCPU) | %.1f |\n", gbsThrottled)
	fmt.Fprintf(&b, "| GB-s at 256 MB, as measured here around each handler (wall clock, waiting on dynalite) | %.1f |\n", s.LambdaGBSeconds*perMillion)

	fmt.Fprintf(&b, "\n| Cost per million endpoints (us-east-1 on-demand) | USD |\n| --- | ---: |\n")
	for _, k := range []string{"DynamoDB writes", "DynamoDB reads", "SQS", "Lambda requests", "Lambda duration", "S3"} {
		fmt.Fprintf(&b, "| %s | %.4f |\n", k, cost[k])
	}
	fmt.Fprintf(&b, "| **Total** | **%.3f** |\n", total)
	fmt.Fprintf(&b, "| Floor: 2 write units per endpoint | %.3f |\n", floor)

	fmt.Fprintf(&b, "\nNotes:\n\n"+
		"- Units are those dynalite reported (`ReturnConsumedCapacity TOTAL`); %.0f of the %.0f units were computed from item\n"+
		"  sizes by DynamoDB's rules instead (the usage records' own writes, failed conditions). dynalite leaves global\n"+
		"  secondary indexes out of the units: on AWS an endpoint with a `User.UserId` costs one more write unit (its\n"+
		"  `ByUser` entry), and a user's attributes one more for the Users item. These endpoints have no user.\n"+
		"- The handler CPU time is the whole process's: it includes the in-process S3 emulator and the emulated\n"+
		"  event-source mapping's receives and deletes, so it is an upper bound of the handlers'. Lambda's duration is\n"+
		"  priced CPU-bound at 256 MB's CPU share; the wall-clock figure measured here is dominated by dynalite's latency.\n"+
		"- SQS requests and billed chunks include, per Lambda invocation, one ReceiveMessage and one DeleteMessageBatch\n"+
		"  of the event-source mapping (an estimate: Lambda's pollers also make empty receives, billed per queue, not per job).\n"+
		"- Writes that need no condition go in BatchWriteItem (the members, 25 a call). An endpoint is a conditional PutItem\n"+
		"  (its version, or that it does not exist yet), read first by a consistent BatchGetItem of 100 keys; a batch's\n"+
		"  bookkeeping is one UpdateItem on its piece and one usage record: that is the constant per batch above 2 units.\n",
		s.DynamoDBComputedUnits, s.DynamoDBWriteUnits+s.DynamoDBReadUnits)
	fmt.Fprintf(&b, "\nReproduce: `make bench`, or this section alone: `go run ./internal/benchreport -sections pipeline -out /tmp/pipeline.md`.\n")
	return b.Bytes()
}

func commas(n int) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

func seconds(ds []time.Duration) string {
	ss := make([]string, len(ds))
	for i, d := range ds {
		ss[i] = fmt.Sprintf("%.1f s", d.Seconds())
	}
	return strings.Join(ss, " and ")
}

// loadAverage is the machine's 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
