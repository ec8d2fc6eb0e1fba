package localstack

import (
	"errors"
	"net/url"
	"testing"
)

func TestEncodeEventKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{"imports/a.csv", "imports/a.csv"},
		{"imports/my segment/ü file.csv", "imports/my+segment/%C3%BC+file.csv"},
		{"imports/a+b=c&d.csv", "imports/a%2Bb%3Dc%26d.csv"},
		{"imports/(1)~x*.csv", "imports/%281%29%7Ex*.csv"},
	}
	for _, tt := range tests {
		got := EncodeEventKey(tt.key)
		if got != tt.want {
			t.Errorf("EncodeEventKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
		if back, err := url.QueryUnescape(got); err != nil || back != tt.key {
			t.Errorf("QueryUnescape(%q) = %q, %v", got, back, err)
		}
	}
}

const envTemplate = `
Parameters:
  Size: {Type: Number, Default: 5}
  NoDefault: {Type: String}
Globals:
  Function:
    Environment:
      Variables:
        BUCKET: !Sub "${AWS::StackName}-${AWS::AccountId}-${AWS::Region}"
        SIZE: !Ref Size
Resources:
  Files:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-${AWS::AccountId}-${AWS::Region}"
  Jobs:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: Id, KeyType: HASH}]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: {Ref: Jobs}
          TABLE_ARN: {"Fn::GetAtt": [Jobs, Arn]}
          PATH_STYLE: !Sub "s3://${Files}/x/${!literal}"
          JOINED: !Join [",", [!Ref Size, !Ref AWS::Region]]
`

// resolveEnv resolves a template's environment as Start does, without
// emulators: tables and buckets have their local names before provisioning.
func resolveEnv(t *testing.T, doc string, params map[string]string) (map[string]string, error) {
	t.Helper()
	tmpl, err := parseTemplate([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	values, err := parameterValues(tmpl, params)
	if err != nil {
		return nil, err
	}
	p := newProvisioner(tmpl, values)
	for _, id := range tmpl.ofType(typeTable) {
		p.res.attrs[id] = map[string]string{"": id, "Arn": "arn:aws:dynamodb:us-east-1:000000000000:table/" + id}
	}
	for _, id := range tmpl.ofType(typeBucket) {
		p.res.attrs[id] = map[string]string{"": BucketName}
	}
	_, fns, err := p.res.functionEnvs()
	return fns["Fn"], err
}

func TestEnvResolvesIntrinsics(t *testing.T) {
	env, err := resolveEnv(t, envTemplate, map[string]string{"Size": "7"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"BUCKET":     "segport",
		"SIZE":       "7",
		"TABLE":      "Jobs",
		"TABLE_ARN":  "arn:aws:dynamodb:us-east-1:000000000000:table/Jobs",
		"PATH_STYLE": "s3://segport/x/${literal}",
		"JOINED":     "7,us-east-1",
	}
	checkVars(t, env, want)
}

func checkVars(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestEnvRejectsUnknownReferences(t *testing.T) {
	tests := []struct {
		name, variable string
		params         map[string]string
	}{
		{"missing resource", "!Ref NoSuchQueue", nil},
		{"missing GetAtt resource", "!GetAtt NoSuchQueue.Arn", nil},
		{"missing Sub variable", `!Sub "${NoSuchTable}-x"`, nil},
		{"unknown parameter override", "!Ref Size", map[string]string{"Sizee": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := envTemplate + "          BAD: " + tt.variable + "\n"
			_, err := resolveEnv(t, doc, tt.params)
			if !errors.Is(err, errUnknownRef) {
				t.Errorf("err = %v, want one naming a reference not in the template", err)
			}
		})
	}
	doc := envTemplate + "          BAD: !Ref NoDefault\n"
	if _, err := resolveEnv(t, doc, nil); err == nil {
		t.Error("a parameter without default or override resolved")
	}
}
