package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"

	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/localstack"
)

// deployment is a stack deployed from segport's template, as CloudFormation
// describes it: its outputs and parameter values.
type deployment struct {
	stack   string
	region  string
	outputs map[string]string
	params  map[string]string
}

// templateOutputs are the outputs of the template this CLI was built with
// (its own embedded copy), and the TemplateVersion it declares.
func templateOutputs() ([]string, string, error) {
	doc, err := localstack.ParseDocument(segport.Template)
	if err != nil {
		return nil, "", err
	}
	outs, _ := doc["Outputs"].(map[string]any)
	version := ""
	if o, ok := outs["TemplateVersion"].(map[string]any); ok {
		version = fmt.Sprint(o["Value"])
	}
	return slices.Sorted(maps.Keys(outs)), version, nil
}

// describeDeployment reads a stack's outputs and checks them against this
// version's template: every output it declares is there (all of them named in
// one message when some are not), and the stack was deployed from the same
// TemplateVersion.
func describeDeployment(ctx context.Context, awsCfg aws.Config, stack string) (*deployment, error) {
	out, err := cloudformation.NewFromConfig(awsCfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
		return nil, fmt.Errorf("stack %s does not exist in %s: name it with --stack, or stack_name in samconfig.toml (sam deploy creates it)", stack, awsCfg.Region)
	}
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("stack %s does not exist in %s", stack, awsCfg.Region)
	}
	st := out.Stacks[0]
	d := &deployment{stack: stack, region: awsCfg.Region, outputs: map[string]string{}, params: map[string]string{}}
	for _, o := range st.Outputs {
		d.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for _, p := range st.Parameters {
		d.params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	if status := string(st.StackStatus); unusableStatus(status) {
		return nil, fmt.Errorf("stack %s is %s: its resources are not all there (see its events: aws cloudformation describe-stack-events --stack-name %s)", stack, status, stack)
	}
	return d, d.check()
}

// unusableStatus: a stack that never finished creating, rolled back its
// creation, or is being deleted.
func unusableStatus(s string) bool {
	return s == "CREATE_IN_PROGRESS" || s == "CREATE_FAILED" || strings.HasPrefix(s, "ROLLBACK_") || strings.HasPrefix(s, "DELETE_")
}

// check compares the stack's outputs with this version's template.
func (d *deployment) check() error {
	want, version, err := templateOutputs()
	if err != nil {
		return fmt.Errorf("read the embedded template: %w", err)
	}
	var missing []string
	for _, name := range want {
		if d.outputs[name] == "" {
			missing = append(missing, name)
		}
	}
	var problems []string
	if len(missing) > 0 {
		noun := "output"
		if len(missing) > 1 {
			noun = "outputs"
		}
		problems = append(problems, fmt.Sprintf("stack %s has no %s %s: is it a segport stack, deployed from this version's template?", d.stack, noun, strings.Join(missing, ", ")))
	}
	if got := d.outputs["TemplateVersion"]; got != "" && got != version {
		problems = append(problems, fmt.Sprintf("stack %s was deployed from template version %s, and this segport needs version %s", d.stack, got, version))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s (deploy this version's template.yaml with sam build && sam deploy, or name another stack with --stack)", strings.Join(problems, "; "))
}
