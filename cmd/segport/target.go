package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/segport/segport/internal/app"
	"github.com/segport/segport/internal/chaos"
	"github.com/segport/segport/internal/config"
	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// stackFlags are the flags every stack command takes.
type stackFlags struct {
	data   string
	params overrides
	aws    bool
	stack  string
	json   bool
	chaos  *chaos.Chaos // faults for the handlers of a stack this command starts (import, dev)
}

func addStackFlags(fs *flag.FlagSet) *stackFlags {
	sf := &stackFlags{params: overrides{}}
	def := os.Getenv("SEGPORT_DATA")
	if def == "" {
		def = ".segport"
	}
	fs.StringVar(&sf.data, "data", def, "local stack data folder `DIR` (env SEGPORT_DATA)")
	fs.Var(sf.params, "parameter-overrides", "template parameters, `Name=Value ...`, of the local stack this command starts, as sam deploy takes them (ParameterKey=Name,ParameterValue=Value too)")
	fs.BoolVar(&sf.aws, "aws", false, "use the deployed stack")
	fs.StringVar(&sf.stack, "stack", "", "CloudFormation stack `NAME` (default: samconfig.toml's)")
	fs.BoolVar(&sf.json, "json", false, "print JSON")
	return sf
}

// overrides are template parameter values: --parameter-overrides.
type overrides map[string]string

func (o overrides) String() string {
	parts := make([]string, 0, len(o))
	for _, k := range slices.Sorted(maps.Keys(o)) {
		parts = append(parts, k+"="+o[k])
	}
	return strings.Join(parts, " ")
}

// Set takes space-separated Name=Value or ParameterKey=Name,ParameterValue=Value words.
func (o overrides) Set(s string) error {
	for _, word := range strings.Fields(s) {
		name, value, ok := strings.Cut(word, "=")
		if name == "ParameterKey" {
			name, value, ok = strings.Cut(value, ",ParameterValue=")
		}
		if !ok || !parameterName.MatchString(name) {
			return fmt.Errorf("%q is not Name=Value", word)
		}
		o[name] = value
	}
	return nil
}

var parameterName = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// gatherOverrides joins the Name=Value words that follow --parameter-overrides
// into its one value, so that sam's form --parameter-overrides A=1 B=2 works.
func gatherOverrides(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		out = append(out, args[i])
		if name := strings.TrimLeft(args[i], "-"); name != "parameter-overrides" || i+1 == len(args) {
			continue
		}
		words := []string{args[i+1]}
		for i++; i+1 < len(args) && overrideWord.MatchString(args[i+1]); i++ {
			words = append(words, args[i+1])
		}
		out = append(out, strings.Join(words, " "))
	}
	return out
}

var overrideWord = regexp.MustCompile(`^[A-Za-z0-9]+=`)

// target is a deployment to import into and query: local or on AWS.
type target struct {
	app    *app.App
	rt     *localrun.Runtime
	invoke func(ctx context.Context, req importer.Request) (*job.Job, error)
	sqs    *sqs.Client
	dlqs   map[string]string // dead-letter queue URL -> the queue it serves
	apiURL string            // the deployed stack's query API (ApiUrl)
	// deployment and awsCfg are the deployed stack's, with --aws.
	deployment *deployment
	awsCfg     aws.Config
	queues     []namedQueue
	dataDir    string // the local stack's
}

func (t *target) Close() {
	if t.rt != nil {
		t.rt.Close()
	}
}

func openTarget(ctx context.Context, sf *stackFlags, log *slog.Logger) (*target, error) {
	if sf.aws {
		if len(sf.params) > 0 {
			return nil, usageErr("--parameter-overrides sets the local stack's parameters; a deployed stack takes them from sam deploy --parameter-overrides")
		}
		return openAWS(ctx, sf.stack)
	}
	if err := localstack.PrivateDir(sf.data); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if log == nil {
		f, err := os.OpenFile(filepath.Join(sf.data, "segport.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err == nil {
			err = f.Chmod(0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("data folder %s is not writable: %w", sf.data, err)
		}
		log = slog.New(slog.NewJSONHandler(f, nil))
	}
	rt, err := localrun.Open(ctx, localrun.Options{DataDir: sf.data, Log: log, Chaos: sf.chaos, Parameters: sf.params})
	if err != nil {
		return nil, fmt.Errorf("local stack in %s: %w", sf.data, err)
	}
	dlqs := map[string]string{}
	for src, dlq := range rt.Stack.DeadLetters {
		dlqs[rt.Stack.Resources[dlq]] = rt.Stack.Resources[src]
	}
	queues := stackQueues(func(id string) string { return rt.Stack.Resources[id] })
	return &target{app: rt.App, rt: rt, invoke: rt.App.Trigger.CreateImportJob, sqs: rt.Stack.SQSClient(), dlqs: dlqs, queues: queues, dataDir: sf.data}, nil
}

// openAWS reads the deployed stack's outputs and parameters into a Config.
func openAWS(ctx context.Context, stack string) (*target, error) {
	if stack == "" {
		stack = samconfigStack("samconfig.toml")
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	d, err := describeDeployment(ctx, awsCfg, stack)
	if err != nil {
		return nil, err
	}
	vals := d.outputs
	shards, _ := strconv.Atoi(d.params["MembershipShards"])
	cfg := &config.Config{
		Bucket: vals["BucketName"], ParseQueueURL: vals["ParseQueueUrl"], WriteQueueURL: vals["WriteQueueUrl"],
		Tables: dynamo.Tables{
			Endpoints: vals["EndpointsTableName"], Users: vals["UsersTableName"], Segments: vals["SegmentsTableName"],
			Members: vals["MembersTableName"], Jobs: vals["JobsTableName"], Registry: vals["RegistryTableName"],
		},
		Shards: max(shards, 1), Limits: endpoint.DefaultLimits(),
	}
	a := app.New(cfg, awsCfg, app.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	lc := lambda.NewFromConfig(awsCfg)
	fn := vals["TriggerFunctionArn"]
	invoke := func(ctx context.Context, req importer.Request) (*job.Job, error) {
		payload, _ := json.Marshal(req)
		res, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload})
		if err != nil {
			return nil, fmt.Errorf("invoke the trigger %s: %w", fn, err)
		}
		if res.FunctionError != nil {
			return nil, fmt.Errorf("the trigger %s failed (%s): %s (its log: %s)", fn, aws.ToString(res.FunctionError), res.Payload, vals["TriggerLogGroupName"])
		}
		var j job.Job
		if err := json.Unmarshal(res.Payload, &j); err != nil {
			return nil, fmt.Errorf("decode the response of the trigger %s: %w", fn, err)
		}
		return &j, nil
	}
	dlqs := map[string]string{vals["ParseDLQUrl"]: vals["ParseQueueUrl"], vals["WriteDLQUrl"]: vals["WriteQueueUrl"]}
	queues := stackQueues(func(id string) string {
		return vals[map[string]string{"ParseQueue": "ParseQueueUrl", "WriteQueue": "WriteQueueUrl", "ParseDLQ": "ParseDLQUrl",
			"WriteDLQ": "WriteDLQUrl", "TriggerFailures": "TriggerFailuresUrl"}[id]]
	})
	return &target{app: a, invoke: invoke, sqs: sqs.NewFromConfig(awsCfg), dlqs: dlqs, apiURL: vals["ApiUrl"],
		deployment: d, awsCfg: awsCfg, queues: queues}, nil
}

var stackNameLine = regexp.MustCompile(`(?m)^\s*stack_name\s*=\s*"([^"]+)"`)

// samconfigStack reads stack_name from samconfig.toml, defaulting to "segport".
func samconfigStack(path string) string {
	b, err := os.ReadFile(path)
	if err == nil {
		if m := stackNameLine.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return "segport"
}
