package templatecheck

import (
	"fmt"
	"slices"
	"strings"
)

// LeastPrivilege checks what IAM() lets pass because AWS or SAM wrote it:
//
//   - every function writes logs to its own log group only, so no function
//     runs under a SAM-generated role (SAM attaches AWSLambdaBasicExecutionRole,
//     logs on every group);
//   - no function uses a SAM policy template: they grant more than a function
//     calls (DynamoDBCrudPolicy: DeleteItem, BatchWriteItem, ConditionCheckItem;
//     S3ReadPolicy: the whole bucket);
//   - a function behind an HTTP API that may read the bucket's objects is
//     denied its reports/ folder, which holds raw rows with personal data.
func (t *Template) LeastPrivilege() []string {
	var problems []string
	for _, fn := range t.Functions() {
		grants, _ := t.Permissions(fn)
		own := t.ownLogGroup(fn)
		for _, g := range grants {
			if g.Source == basicExecution.Source {
				problems = append(problems, fmt.Sprintf("%s: SAM gives it AWSLambdaBasicExecutionRole, logs on every log group: give it a Role whose logs statement names its own log group", fn))
				continue
			}
			if strings.HasPrefix(g.Source, "SAM policy template ") {
				problems = append(problems, fmt.Sprintf("%s: %s grants %s: write the actions the function calls", fn, g.Source, strings.Join(g.Actions, ", ")))
				continue
			}
			if !slices.ContainsFunc(g.Actions, func(a string) bool { return strings.HasPrefix(a, "logs:") }) {
				continue
			}
			for _, r := range g.Resources {
				if own == "" || r != own+".Arn" {
					problems = append(problems, fmt.Sprintf("%s: %s allows logs on %s, not on its own log group", fn, g.Source, r))
				}
			}
		}
		if t.servesHTTP(fn) && t.readsAllObjects(grants) && !t.deniesReports(fn) {
			problems = append(problems, fmt.Sprintf("%s serves an HTTP API and may read every object of the bucket, error reports included: deny it s3:GetObject on reports/*", fn))
		}
	}
	return problems
}

// ownLogGroup is the log group the function's LoggingConfig names.
func (t *Template) ownLogGroup(fn string) string {
	return t.refOfType(dig(t.functionProp(fn, "LoggingConfig"), "LogGroup"), typeLogGroup)
}

func (t *Template) servesHTTP(fn string) bool {
	events, _ := t.Resources[fn].Properties["Events"].(map[string]any)
	for _, e := range events {
		if typ := dig(e, "Type"); typ == "HttpApi" || typ == "Api" {
			return true
		}
	}
	return false
}

// readsAllObjects reports an s3:GetObject grant on a whole bucket's objects.
func (t *Template) readsAllObjects(grants []Grant) bool {
	for _, g := range grants {
		if !slices.Contains(g.Actions, "s3:GetObject") && !slices.Contains(g.Actions, "s3:*") {
			continue
		}
		for _, r := range g.Resources {
			if strings.HasSuffix(r, "/*") && !strings.Contains(r, "/reports/") || !strings.Contains(r, ":::") {
				return true // a SAM template names a bucket, not its objects: the whole bucket
			}
		}
	}
	return false
}

// deniesReports reports a Deny of s3:GetObject on reports/* in the function's role.
func (t *Template) deniesReports(fn string) bool {
	role := t.functionProp(fn, "Role")
	for _, r := range refs(role) {
		if t.Resources[r.name].Type != typeRole {
			continue
		}
		for _, p := range list(t.Resources[r.name].Properties["Policies"]) {
			doc, _ := dig(p, "PolicyDocument").(map[string]any)
			for _, g := range t.statementsOf(r.name, doc, true) {
				for _, res := range g.Resources {
					if slices.Contains(g.Actions, "s3:GetObject") && strings.HasSuffix(res, "/reports/*") {
						return true
					}
				}
			}
		}
	}
	return false
}
