package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/localstack"
)

// A check's outcome: pass, warn (works, but not as it should be left) or fail
// (imports are or will be broken).
const (
	pass = "pass"
	warn = "warn"
	fail = "FAIL"
)

// finding is one line of segport doctor.
type finding struct {
	status, check, detail, fix string
}

// doctor checks one deployment through the AWS APIs, the local stack's
// included (its control plane serves them).
type doctor struct {
	t      *target
	d      *deployment
	cfg    aws.Config
	local  bool
	s3     *s3.Client
	lambda *lambda.Client
	ddb    *dynamodb.Client
	cw     *cloudwatch.Client
	now    func() time.Time
}

func doctorCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("doctor", flag.ContinueOnError)
	sf := addStackFlags(fset)
	probe := fset.Bool("probe", false, "also import a generated 10-row file into a segment of its own and follow it to COMPLETED")
	if _, err := parseFlags(fset, args); err != nil {
		return err
	}
	var (
		dr     *doctor
		header string
	)
	if sf.aws {
		if len(sf.params) > 0 {
			return usageErr("--parameter-overrides sets the local stack's parameters; a deployed stack takes them from sam deploy --parameter-overrides")
		}
		stack := sf.stack
		if stack == "" {
			stack = samconfigStack("samconfig.toml")
		}
		t, err := openAWS(ctx, stack)
		if err != nil {
			// The outputs are the first check; without them there is nothing more to check.
			return printFindings(stdout, "segport doctor: stack "+stack, []finding{{fail, "outputs", err.Error(), ""}}, sf.json)
		}
		defer t.Close()
		dr = newDoctor(t, t.deployment, t.awsCfg, false)
		header = fmt.Sprintf("segport doctor: stack %s in %s", stack, t.awsCfg.Region)
	} else {
		t, err := openTarget(ctx, sf, nil)
		if err != nil {
			return err
		}
		defer t.Close()
		cfg := t.rt.Stack.AWSConfig()
		d, err := describeDeployment(ctx, cfg, localstack.StackName)
		if err != nil {
			return printFindings(stdout, "segport doctor: the local stack in "+sf.data, []finding{{fail, "outputs", err.Error(), ""}}, sf.json)
		}
		dr = newDoctor(t, d, cfg, true)
		header = "segport doctor: the local stack in " + sf.data
	}
	var all []finding
	report := func(fs ...finding) { all = append(all, fs...) }
	report(dr.outputs())
	report(dr.notification(ctx))
	report(dr.mappings(ctx)...)
	report(dr.onFailure(ctx))
	report(dr.queues(ctx)...)
	report(dr.stuckJobs(ctx))
	report(dr.tables(ctx))
	report(dr.alarms(ctx))
	report(dr.api(ctx))
	if *probe {
		report(dr.probe(ctx))
	}
	return printFindings(stdout, header, all, sf.json)
}

// printFindings prints the findings, one line each (--json: one array of
// {"Status","Check","Detail","Fix"}), and fails when one failed.
func printFindings(w io.Writer, header string, all []finding, asJSON bool) error {
	failed := 0
	for _, f := range all {
		if f.status == fail {
			failed++
		}
	}
	if asJSON {
		type line struct{ Status, Check, Detail, Fix string }
		out := make([]line, len(all))
		for i, f := range all {
			out[i] = line{f.status, f.check, f.detail, f.fix}
		}
		printJSON(w, out)
	} else {
		fmt.Fprintln(w, header)
		for _, f := range all {
			printFinding(w, f)
		}
		if failed > 0 {
			fmt.Fprintf(w, "%d of the checks failed\n", failed)
		} else {
			fmt.Fprintln(w, "every check passed")
		}
	}
	if failed > 0 {
		return &exitError{code: codeError, err: errSilent}
	}
	return nil
}

func newDoctor(t *target, d *deployment, cfg aws.Config, local bool) *doctor {
	return &doctor{
		t: t, d: d, cfg: cfg, local: local, now: time.Now,
		s3:     s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = local }),
		lambda: lambda.NewFromConfig(cfg), ddb: dynamodb.NewFromConfig(cfg), cw: cloudwatch.NewFromConfig(cfg),
	}
}

func printFinding(w io.Writer, f finding) {
	fmt.Fprintf(w, "%-4s  %s: %s\n", f.status, f.check, f.detail)
	if f.fix != "" && f.status != pass {
		fmt.Fprintf(w, "      fix: %s\n", f.fix)
	}
}
