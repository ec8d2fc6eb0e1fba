package templatecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/segport/segport/internal/config"
)

const root = "../.."

// TestTemplate runs every check on template.yaml and logs each function's
// final permissions (go test -v shows them).
func TestTemplate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.Functions()) < 3 {
		t.Fatalf("the template has %d functions", len(tmpl.Functions()))
	}
	reads := functionReads(t, tmpl)
	checks := []struct {
		name string
		run  func() []string
	}{
		{"Structure", tmpl.Structure},
		{"Environment", func() []string { return tmpl.Environment(reads, config.LocalOnly) }},
		{"SQSEventSources", tmpl.SQSEventSources},
		{"Queues", tmpl.Queues},
		{"IAM", tmpl.IAM},
		{"LeastPrivilege", tmpl.LeastPrivilege},
		{"Buckets", tmpl.Buckets},
		{"Safeguards", tmpl.Safeguards},
		// What holds raw rows and is segport's own expires (README "How long data stays").
		{"Expires", func() []string { return tmpl.Expires("reports/", "pinpoint-exports/") }},
		{"Tables", tmpl.Tables},
		{"Logs", tmpl.Logs},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.run() {
				t.Error(p)
			}
		})
	}
	for _, fn := range tmpl.Functions() {
		grants, _ := tmpl.Permissions(fn)
		for _, g := range grants {
			t.Logf("%s: %s", fn, g)
		}
	}
}

var envName = regexp.MustCompile(`"(SEGPORT_[A-Z0-9_]+)"`)

// functionReads finds, for every function the Makefile builds, the SEGPORT_*
// names in the non-test Go files of the module's packages linked into it.
func functionReads(t *testing.T, tmpl *Template) map[string][]string {
	t.Helper()
	mains := map[string]string{} // function → main package
	target := regexp.MustCompile(`\./functions/[A-Za-z0-9_/-]+`)
	for _, fn := range tmpl.Functions() {
		out, err := run(t, "make", "-s", "-n", "build-"+fn, "ARTIFACTS_DIR=/nonexistent")
		if err != nil {
			t.Errorf("%s: the Makefile has no build-%s target: %v\n%s", fn, fn, err, out)
			continue
		}
		if mains[fn] = target.FindString(out); mains[fn] == "" {
			t.Errorf("build-%s builds no ./functions/ package:\n%s", fn, out)
		}
	}
	out, err := run(t, "go", "list", "-deps", "-f", `{{if not .Standard}}{{.ImportPath}}|{{.Dir}}|{{join .GoFiles ","}}|{{join .Deps ","}}{{end}}`, "./...")
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	module := "github.com/segport/segport"
	names := map[string][]string{} // package → SEGPORT_* names in it
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		parts := strings.Split(line, "|")
		if len(parts) != 4 || !strings.HasPrefix(parts[0], module) {
			continue
		}
		deps[parts[0]] = strings.Split(parts[3], ",")
		for _, f := range strings.Split(parts[2], ",") {
			if f == "" {
				continue
			}
			src, err := os.ReadFile(filepath.Join(parts[1], f))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range envName.FindAllStringSubmatch(string(src), -1) {
				names[parts[0]] = append(names[parts[0]], m[1])
			}
		}
	}
	reads := map[string][]string{}
	for fn, main := range mains {
		pkg := module + strings.TrimPrefix(main, ".")
		if _, ok := deps[pkg]; !ok {
			t.Errorf("%s: package %s not found", fn, pkg)
			continue
		}
		var all []string
		for _, p := range append([]string{pkg}, deps[pkg]...) {
			all = append(all, names[p]...)
		}
		slices.Sort(all)
		reads[fn] = slices.Compact(all)
	}
	return reads
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestChecksFindProblems feeds each check a template with one defect.
func TestChecksFindProblems(t *testing.T) {
	tests := []struct {
		name  string
		check func(*Template) []string
		doc   string
		want  string // a substring of one problem
	}{
		{"unknown ref", (*Template).Structure, `
Transform: AWS::Serverless-2016-10-31
Resources:
  Q: {Type: AWS::SQS::Queue}
Outputs:
  X: {Value: !GetAtt Missing.Arn}`, "GetAtt Missing.Arn refers to nothing"},
		{"table not retained", (*Template).Safeguards, `
Resources:
  T: {Type: AWS::DynamoDB::Table, Properties: {DeletionProtectionEnabled: true}}`, "T is not retained"},
		{"no deletion protection", (*Template).Safeguards, `
Resources:
  T: {Type: AWS::DynamoDB::Table, DeletionPolicy: Retain, UpdateReplacePolicy: Retain, Properties: {}}`, "T sets no DeletionProtectionEnabled"},
		{"bucket not retained", (*Template).Safeguards, `
Resources:
  B: {Type: AWS::S3::Bucket, DeletionPolicy: Delete, UpdateReplacePolicy: Retain}`, "B is not retained"},
		{"4-day queue", (*Template).Safeguards, `
Resources:
  Q: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 60}}`, "Q keeps messages"},
		{"assume any account", (*Template).Safeguards, `
Resources:
  R:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: [sts:AssumeRole], Resource: "arn:aws:iam::*:role/x-*"}`, "R may assume roles in any account"},
		{"api without access logs", (*Template).Safeguards, `
Resources:
  A:
    Type: AWS::Serverless::HttpApi
    Properties: {DefaultRouteSettings: {ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10}}`, "A writes no access logs"},
		{"api without throttling", (*Template).Safeguards, `
Resources:
  L: {Type: AWS::Logs::LogGroup}
  A:
    Type: AWS::Serverless::HttpApi
    Properties: {AccessLogSettings: {DestinationArn: !GetAtt L.Arn, Format: x}}`, "A does not throttle"},
		{"reports kept forever", func(t *Template) []string { return t.Expires("reports/") }, `
Resources:
  B:
    Type: AWS::S3::Bucket
    Properties:
      LifecycleConfiguration:
        Rules:
          - {Id: Abort, Status: Enabled, Prefix: reports/, AbortIncompleteMultipartUpload: {DaysAfterInitiation: 1}}
          - {Id: Old, Status: Disabled, Prefix: reports/, ExpirationInDays: 30}`, "B keeps reports/ forever"},
		{"no transform", (*Template).Structure, `
Resources:
  Q: {Type: AWS::SQS::Queue}`, "Transform"},
		{"env var not set", func(t *Template) []string {
			return t.Environment(map[string][]string{"Fn": {"SEGPORT_A", "SEGPORT_B", "SEGPORT_LOCAL"}}, []string{"SEGPORT_LOCAL"})
		}, `
Globals:
  Function:
    Environment: {Variables: {SEGPORT_A: !Ref Q}}
Resources:
  Q: {Type: AWS::SQS::Queue}
  Fn: {Type: AWS::Serverless::Function}`, "Fn reads SEGPORT_B, which the template does not set"},
		{"env var literal", func(t *Template) []string {
			return t.Environment(map[string][]string{"Fn": {"SEGPORT_A"}}, nil)
		}, `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Environment: {Variables: {SEGPORT_A: my-table}}}`, "SEGPORT_A is not set from a resource or parameter"},
		{"env var unread", func(t *Template) []string {
			return t.Environment(map[string][]string{"Fn": nil}, nil)
		}, `
Resources:
  Q: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Environment: {Variables: {SEGPORT_OLD: !Ref Q}}}`, "sets SEGPORT_OLD, which its code does not read"},
		{"no batch item failures", (*Template).SQSEventSources, `
Resources:
  Q: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 60}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
      Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}}`, "does not report batch item failures"},
		{"visibility shorter than timeout", (*Template).SQSEventSources, `
Resources:
  Q: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 900
      Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, FunctionResponseTypes: [ReportBatchItemFailures]}}}`, "visibility timeout 30 s is shorter"},
		{"queue without DLQ", (*Template).Queues, `
Resources:
  Q: {Type: AWS::SQS::Queue, Properties: {SqsManagedSseEnabled: true}}`, "Q has no dead-letter queue"},
		{"queue unencrypted", (*Template).Queues, `
Resources:
  Q: {Type: AWS::SQS::Queue}`, "Q is not encrypted"},
		{"DLQ without alarm", (*Template).Queues, `
Resources:
  D: {Type: AWS::SQS::Queue, Properties: {SqsManagedSseEnabled: true}}
  Q:
    Type: AWS::SQS::Queue
    Properties:
      SqsManagedSseEnabled: true
      RedrivePolicy: {deadLetterTargetArn: !GetAtt D.Arn, maxReceiveCount: 3}
  A:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SQS
      MetricName: ApproximateAgeOfOldestMessage
      Dimensions: [{Name: QueueName, Value: !GetAtt Q.QueueName}]`, "D has no CloudWatch alarm on ApproximateNumberOfMessagesVisible"},
		{"SQS event on a SAM role", (*Template).IAM, `
Resources:
  Q: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}}`, "AWSLambdaSQSQueueExecutionRole"},
		{"star resource", (*Template).IAM, `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement: [{Effect: Allow, Action: [dynamodb:GetItem], Resource: "*"}]`, "allows dynamodb:GetItem on every resource"},
		{"table wildcard", (*Template).IAM, `
Resources:
  R:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement: [{Effect: Allow, Action: [dynamodb:Query], Resource: !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*"}]
  Fn: {Type: AWS::Serverless::Function, Properties: {Role: !GetAtt R.Arn}}`, "on every resource"},
		{"action wildcard", (*Template).IAM, `
Resources:
  T: {Type: AWS::DynamoDB::Table}
  R:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement: [{Effect: Allow, Action: ["dynamodb:*"], Resource: !GetAtt T.Arn}]
  Fn: {Type: AWS::Serverless::Function, Properties: {Role: !GetAtt R.Arn}}`, "grants dynamodb:*: name the actions"},
		{"no resource", (*Template).IAM, `
Resources:
  R:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement: [{Effect: Allow, Action: [sqs:SendMessage]}]
  Fn: {Type: AWS::Serverless::Function, Properties: {Role: !GetAtt R.Arn}}`, "names no resource"},
		{"managed policy", (*Template).IAM, `
Resources:
  Fn: {Type: AWS::Serverless::Function, Properties: {Policies: [AmazonS3FullAccess]}}`, "managed policy AmazonS3FullAccess"},
		{"policy template on a literal", (*Template).IAM, `
Resources:
  Fn: {Type: AWS::Serverless::Function, Properties: {Policies: [{DynamoDBCrudPolicy: {TableName: other-table}}]}}`, "TableName names no resource"},
		{"public bucket", (*Template).Buckets, `
Resources:
  B: {Type: AWS::S3::Bucket, Properties: {BucketEncryption: {ServerSideEncryptionConfiguration: [{ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}}]}}}`, "BlockPublicAcls"},
		{"bucket allows plain HTTP", (*Template).Buckets, `
Resources:
  B: {Type: AWS::S3::Bucket}`, "denying s3:*"},
		{"table without PITR", (*Template).Tables, `
Resources:
  T: {Type: AWS::DynamoDB::Table, Properties: {SSESpecification: {SSEEnabled: true}}}`, "point-in-time recovery"},
		{"log group forever", (*Template).Logs, `
Resources:
  L: {Type: AWS::Logs::LogGroup}
  Fn: {Type: AWS::Serverless::Function, Properties: {LoggingConfig: {LogGroup: !Ref L}}}`, "L keeps its logs forever"},
		{"function without log group", (*Template).Logs, `
Resources:
  L: {Type: AWS::Logs::LogGroup, Properties: {RetentionInDays: 7, LogGroupName: /aws/lambda/other}}
  Fn: {Type: AWS::Serverless::Function, Properties: {FunctionName: mine}}`, "Fn logs to no log group"},
		{"SAM-generated role", (*Template).LeastPrivilege, `
Resources:
  Fn: {Type: AWS::Serverless::Function}`, "Fn: SAM gives it AWSLambdaBasicExecutionRole"},
		{"SAM CRUD policy template", (*Template).LeastPrivilege, `
Resources:
  T: {Type: AWS::DynamoDB::Table}
  Fn: {Type: AWS::Serverless::Function, Properties: {Policies: [{DynamoDBCrudPolicy: {TableName: !Ref T}}]}}`,
			"SAM policy template DynamoDBCrudPolicy grants dynamodb:GetItem, dynamodb:DeleteItem"},
		{"logs on another group", (*Template).LeastPrivilege, `
Resources:
  Mine: {Type: AWS::Logs::LogGroup}
  Other: {Type: AWS::Logs::LogGroup}
  R:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: [logs:PutLogEvents], Resource: !GetAtt Other.Arn}
  Fn: {Type: AWS::Serverless::Function, Properties: {Role: !GetAtt R.Arn, LoggingConfig: {LogGroup: !Ref Mine}}}`,
			"allows logs on Other.Arn, not on its own log group"},
		{"API reads reports", (*Template).LeastPrivilege, `
Resources:
  L: {Type: AWS::Logs::LogGroup}
  R:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: [logs:PutLogEvents], Resource: !GetAtt L.Arn}
              - {Effect: Allow, Action: [s3:GetObject], Resource: !Sub "arn:${AWS::Partition}:s3:::${AWS::StackName}-files/*"}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt R.Arn
      LoggingConfig: {LogGroup: !Ref L}
      Events: {Get: {Type: HttpApi, Properties: {Method: GET, Path: /x}}}`, "deny it s3:GetObject on reports/*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			problems := tt.check(tmpl)
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got %q", tt.want, problems)
		})
	}
}

// TestChecksPassGoodPatterns guards against false alarms on the patterns the
// real template uses.
func TestChecksPassGoodPatterns(t *testing.T) {
	doc := `
Transform: AWS::Serverless-2016-10-31
Resources:
  B:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-files"
  L: {Type: AWS::Logs::LogGroup, Properties: {RetentionInDays: 7, LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-fn"}}
  R:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: [s3:GetObject], Resource: !Sub "arn:${AWS::Partition}:s3:::${AWS::StackName}-files/*"}
              - {Effect: Allow, Action: [logs:PutLogEvents], Resource: !GetAtt L.Arn}
              - {Effect: Allow, Action: [cloudwatch:PutMetricData], Resource: "*"}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-fn"
      Role: !GetAtt R.Arn
      LoggingConfig: {LogGroup: !Ref L}
  ApiLogs: {Type: AWS::Logs::LogGroup, Properties: {RetentionInDays: 7}}
  ApiRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: [logs:CreateLogStream, logs:PutLogEvents], Resource: !GetAtt ApiLogs.Arn}
              - {Effect: Allow, Action: [s3:GetObject], Resource: !Sub "arn:${AWS::Partition}:s3:::${AWS::StackName}-files/*"}
              - {Effect: Deny, Action: [s3:GetObject], Resource: !Sub "arn:${AWS::Partition}:s3:::${AWS::StackName}-files/reports/*"}
              - {Effect: Allow, Action: [sqs:SendMessage], Resource: !GetAtt Q.Arn}
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt ApiRole.Arn
      LoggingConfig: {LogGroup: !Ref ApiLogs}
      Events: {Get: {Type: HttpApi, Properties: {Method: GET, Path: /x}}}
  Q: {Type: AWS::SQS::Queue}
`
	tmpl, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(append(tmpl.IAM(), tmpl.Structure()...), tmpl.LeastPrivilege()...) {
		t.Error(p)
	}
	for _, p := range tmpl.Logs() {
		if strings.HasPrefix(p, "Fn ") {
			t.Error(p)
		}
	}
}
