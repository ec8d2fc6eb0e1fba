package localstack

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// The control plane: what `segport --aws` and `segport doctor` read about a
// deployment, served from the template as CloudFormation, Lambda and S3 serve
// it for a deployed stack, so that the CLI's --aws path runs unchanged against
// the local stack (AWS_ENDPOINT_URL_CLOUDFORMATION, _LAMBDA and _CLOUDWATCH
// point here):
//
//   - CloudWatch DescribeAlarms (alarms.go): the template's alarms;
//   - CloudFormation DescribeStacks: the stack "segport" with the template's
//     Outputs resolved to local values and its parameter values;
//   - Lambda ListEventSourceMappings, GetEventSourceMapping and
//     UpdateEventSourceMapping (Enabled pauses or resumes the emulated
//     mapping), GetFunctionEventInvokeConfig (the template's
//     EventInvokeConfig) and Invoke (Options.OnInvoke);
//   - S3 GetBucketNotificationConfiguration and
//     PutBucketNotificationConfiguration are served by the S3 front
//     (notifyconfig.go): the notifier's triggers.

// Invoker runs a function invoked directly: its payload in, its result out.
type Invoker func(ctx context.Context, payload json.RawMessage) (any, error)

// functionInfo is what the control plane knows of one function of the template.
type functionInfo struct {
	arn string
	// onFailure is the ARN of its EventInvokeConfig's OnFailure destination;
	// hasInvokeConfig tells whether it declares an EventInvokeConfig at all.
	onFailure       string
	maxRetries      int
	hasInvokeConfig bool
}

// controlPlane serves the control-plane APIs on 127.0.0.1.
type controlPlane struct {
	outputs   map[string]string
	params    map[string]string
	functions map[string]functionInfo // logical id → info
	sources   []EventSource
	invokers  map[string]Invoker // logical id → invoker
	alarms    []localAlarm
	sqs       *sqs.Client // for the alarms' queue depths
	created   time.Time
	// pause stops or resumes the mappings of a queue URL.
	pause func(queueURL string, paused bool)

	mu       sync.Mutex      // guards outputs and disabled
	disabled map[string]bool // mapping UUID → disabled

	front *front
	url   string
}

// serve serves the control plane on 127.0.0.1 behind the guard the
// emulators have: every request signed with the stack's credentials, for the
// service its path belongs to.
func (c *controlPlane) serve(v sigV4) error {
	f, err := serveFront(guardBy(v, controlService, c))
	if err != nil {
		return fmt.Errorf("serve control plane: %w", err)
	}
	c.front, c.url = f, f.url
	return nil
}

func (c *controlPlane) close(ctx context.Context) error {
	if c == nil {
		return nil
	}
	return c.front.close(ctx)
}

// controlService is the SigV4 service name (the signing name, which for
// CloudWatch is "monitoring") of a control-plane request, told by its path
// as ServeHTTP routes it.
func controlService(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.URL.Path, "/2015-03-31/") || strings.HasPrefix(r.URL.Path, "/2019-09-25/"):
		return "lambda"
	case strings.HasPrefix(r.URL.Path, "/service/GraniteServiceVersion20100801/operation/"):
		return "monitoring"
	}
	return "cloudformation"
}

func (c *controlPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/2015-03-31/") || strings.HasPrefix(r.URL.Path, "/2019-09-25/"):
		c.lambda(w, r)
	case strings.HasPrefix(r.URL.Path, "/service/GraniteServiceVersion20100801/operation/"):
		c.cloudWatch(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/":
		c.cloudFormation(w, r)
	default:
		http.Error(w, "not served by the local stack: "+r.Method+" "+r.URL.Path, http.StatusNotImplemented)
	}
}

// SetOutput changes one of the stack's outputs, as a process that serves a
// resource the stack does not (segport dev's query API: ApiUrl) records where.
func (s *Stack) SetOutput(name, value string) error {
	if !s.owned || s.control == nil {
		return fmt.Errorf("set output %s: %w", name, ErrAttached)
	}
	s.control.mu.Lock()
	defer s.control.mu.Unlock()
	s.control.outputs[name] = value
	return nil
}

// mappingUUID is a stable id for an event source: Lambda's mappings have UUIDs.
func mappingUUID(src EventSource) string {
	h := sha256.Sum256([]byte(src.Function + "/" + src.Event))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// MappingEnabled reports whether the event-source mapping of a queue runs.
func (c *controlPlane) mappingEnabled(queueURL string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, src := range c.sources {
		if src.QueueURL == queueURL && c.disabled[mappingUUID(src)] {
			return false
		}
	}
	return true
}

// ---- CloudFormation (query protocol, XML answers) ----

const cfnNamespace = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

type cfnOutput struct {
	OutputKey   string
	OutputValue string
}

type cfnParameter struct {
	ParameterKey   string
	ParameterValue string
}

type cfnStack struct {
	StackName    string
	StackId      string
	StackStatus  string
	CreationTime string
	Outputs      []cfnOutput    `xml:"Outputs>member"`
	Parameters   []cfnParameter `xml:"Parameters>member"`
}

type cfnDescribeStacksResponse struct {
	XMLName   xml.Name   `xml:"DescribeStacksResponse"`
	Xmlns     string     `xml:"xmlns,attr"`
	Stacks    []cfnStack `xml:"DescribeStacksResult>Stacks>member"`
	RequestId string     `xml:"ResponseMetadata>RequestId"`
}

type queryError struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestId string   `xml:"RequestId"`
}

func (c *controlPlane) cloudFormation(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeXML(w, http.StatusBadRequest, queryError{Type: "Sender", Code: "MalformedInput", Message: err.Error()})
		return
	}
	action := r.PostForm.Get("Action")
	if action != "DescribeStacks" {
		writeXML(w, http.StatusBadRequest, queryError{Type: "Sender", Code: "InvalidAction", Message: "the local stack serves DescribeStacks only, not " + action})
		return
	}
	name := r.PostForm.Get("StackName")
	if name != "" && name != StackName && name != stackID() {
		writeXML(w, http.StatusBadRequest, queryError{Type: "Sender", Code: "ValidationError", Message: "Stack with id " + name + " does not exist"})
		return
	}
	st := cfnStack{StackName: StackName, StackId: stackID(), StackStatus: "CREATE_COMPLETE",
		CreationTime: c.created.UTC().Format(time.RFC3339)}
	c.mu.Lock()
	for _, k := range slices.Sorted(maps.Keys(c.outputs)) {
		st.Outputs = append(st.Outputs, cfnOutput{k, c.outputs[k]})
	}
	c.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(c.params)) {
		st.Parameters = append(st.Parameters, cfnParameter{k, c.params[k]})
	}
	writeXML(w, http.StatusOK, cfnDescribeStacksResponse{Xmlns: cfnNamespace, Stacks: []cfnStack{st}, RequestId: "local"})
}

func stackID() string {
	return "arn:aws:cloudformation:" + Region + ":" + AccountID + ":stack/" + StackName + "/00000000-0000-0000-0000-000000000000"
}

// ---- Lambda (REST JSON) ----

type esmJSON struct {
	UUID                  string   `json:"UUID"`
	EventSourceArn        string   `json:"EventSourceArn"`
	FunctionArn           string   `json:"FunctionArn"`
	State                 string   `json:"State"`
	BatchSize             int      `json:"BatchSize"`
	FunctionResponseTypes []string `json:"FunctionResponseTypes"`
}

func (c *controlPlane) mapping(src EventSource) esmJSON {
	m := esmJSON{UUID: mappingUUID(src), EventSourceArn: src.QueueARN, FunctionArn: c.functions[src.Function].arn,
		State: "Enabled", BatchSize: src.BatchSize, FunctionResponseTypes: []string{}}
	c.mu.Lock()
	if c.disabled[m.UUID] {
		m.State = "Disabled"
	}
	c.mu.Unlock()
	if src.ReportBatchItemFailures {
		m.FunctionResponseTypes = []string{"ReportBatchItemFailures"}
	}
	return m
}

// function finds a function by name, logical id or ARN (qualified or not).
func (c *controlPlane) function(name string) (string, bool) {
	for id, f := range c.functions {
		if name == id || name == f.arn || strings.HasPrefix(name, f.arn+":") || name == StackName+"-"+id {
			return id, true
		}
	}
	return "", false
}

func (c *controlPlane) lambda(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && path == "/2015-03-31/event-source-mappings":
		fn := r.URL.Query().Get("FunctionName")
		id, known := c.function(fn)
		out := []esmJSON{}
		for _, src := range c.sources {
			if fn == "" || (known && src.Function == id) {
				out = append(out, c.mapping(src))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"EventSourceMappings": out})
	case strings.HasPrefix(path, "/2015-03-31/event-source-mappings/"):
		c.updateMapping(w, r, strings.TrimPrefix(path, "/2015-03-31/event-source-mappings/"))
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/2019-09-25/functions/") && strings.HasSuffix(path, "/event-invoke-config"):
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/2019-09-25/functions/"), "/event-invoke-config")
		id, ok := c.function(name)
		if !ok || !c.functions[id].hasInvokeConfig {
			lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "The function "+name+" doesn't have an EventInvokeConfig")
			return
		}
		f := c.functions[id]
		out := map[string]any{"FunctionArn": f.arn + ":$LATEST", "MaximumRetryAttempts": f.maxRetries}
		if f.onFailure != "" {
			out["DestinationConfig"] = map[string]any{"OnFailure": map[string]string{"Destination": f.onFailure}}
		}
		writeJSON(w, http.StatusOK, out)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/2015-03-31/functions/") && strings.HasSuffix(path, "/invocations"):
		c.invoke(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "/2015-03-31/functions/"), "/invocations"))
	default:
		lambdaError(w, http.StatusNotImplemented, "ServiceException", "not served by the local stack: "+r.Method+" "+r.URL.Path)
	}
}

func (c *controlPlane) updateMapping(w http.ResponseWriter, r *http.Request, uuid string) {
	var src *EventSource
	for i := range c.sources {
		if mappingUUID(c.sources[i]) == uuid {
			src = &c.sources[i]
		}
	}
	if src == nil {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "The resource you requested does not exist. (Service: Lambda, mapping "+uuid+")")
		return
	}
	if r.Method == http.MethodPut {
		var in struct{ Enabled *bool }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
			return
		}
		if in.Enabled != nil {
			c.mu.Lock()
			c.disabled[uuid] = !*in.Enabled
			c.mu.Unlock()
			if c.pause != nil {
				c.pause(src.QueueURL, !*in.Enabled)
			}
		}
	} else if r.Method != http.MethodGet {
		lambdaError(w, http.StatusNotImplemented, "ServiceException", "not served by the local stack: "+r.Method+" "+r.URL.Path)
		return
	}
	writeJSON(w, http.StatusOK, c.mapping(*src))
}

func (c *controlPlane) invoke(w http.ResponseWriter, r *http.Request, name string) {
	id, ok := c.function(name)
	if !ok {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	h := c.invokers[id]
	if h == nil {
		lambdaError(w, http.StatusNotImplemented, "ServiceException", "the local stack does not invoke "+id+" directly")
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	out, err := h(r.Context(), payload)
	if err != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		writeJSON(w, http.StatusOK, map[string]string{"errorMessage": err.Error(), "errorType": fmt.Sprintf("%T", err)})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func lambdaError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-Errortype", code)
	writeJSON(w, status, map[string]string{"Type": "User", "Message": msg})
}

// newControlPlane resolves what the control plane serves from the template.
func newControlPlane(tmpl *template, params map[string]string, res *resolver, sources []EventSource, opts Options) (*controlPlane, error) {
	c := &controlPlane{
		outputs: map[string]string{}, params: params, functions: map[string]functionInfo{},
		sources: sources, invokers: opts.Invokers, created: opts.Now(), disabled: map[string]bool{},
	}
	// A log group's Ref is its name, as in CloudFormation.
	for _, id := range tmpl.ofType(typeLogGroup) {
		if name, ok := tmpl.Resources[id].Properties["LogGroupName"]; ok {
			v, err := res.value(name)
			if err != nil {
				return nil, fmt.Errorf("log group %s: %w", id, err)
			}
			res.attrs[id][""] = v
		}
	}
	for _, id := range tmpl.ofType(typeFunction) {
		f := functionInfo{arn: res.attrs[id]["Arn"]}
		if cfg, ok := tmpl.Resources[id].Properties["EventInvokeConfig"]; ok {
			f.hasInvokeConfig = true
			if dest := dig(cfg, "DestinationConfig", "OnFailure", "Destination"); dest != nil {
				v, err := res.value(dest)
				if err != nil {
					return nil, fmt.Errorf("function %s on-failure destination: %w", id, err)
				}
				f.onFailure = v
			}
			if n := dig(cfg, "MaximumRetryAttempts"); n != nil {
				v, _ := res.value(n)
				fmt.Sscan(v, &f.maxRetries)
			}
		}
		c.functions[id] = f
	}
	c.alarms = templateAlarms(tmpl, res)
	// An output that cannot be resolved locally is left out, as a stack
	// without it would be: whatever needs it says so.
	for name, o := range tmpl.Outputs {
		if v, err := res.value(o.Value); err == nil {
			c.outputs[name] = v
		} else {
			opts.Logger.Debug("template output not resolved locally", "output", name, "err", err)
		}
	}
	return c, nil
}

// onFailure sends an S3 event that a function failed on every attempt to the
// function's on-failure destination (an SQS queue of the stack), in the
// record Lambda writes there; without a destination it is only logged.
func (s *Stack) onFailure(ctx context.Context, function string, ev events.S3Event, cause error) {
	if s.control == nil {
		return
	}
	var dest, fnArn string
	for _, f := range s.control.functions {
		if f.arn == function {
			dest, fnArn = f.onFailure, f.arn
		}
	}
	if dest == "" {
		return
	}
	record := map[string]any{
		"version": "1.0", "timestamp": s.control.created.UTC().Format(time.RFC3339Nano),
		"requestContext": map[string]any{"requestId": ev.Records[0].S3.Object.Sequencer, "functionArn": fnArn + ":$LATEST",
			"condition": "RetriesExhausted", "approximateInvokeCount": len(notifyRetryDelays) + 1},
		"requestPayload":  ev,
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": map[string]string{"errorMessage": cause.Error(), "errorType": fmt.Sprintf("%T", cause)},
	}
	body, err := json.Marshal(record)
	if err == nil {
		name := dest[strings.LastIndex(dest, ":")+1:]
		var out *sqs.GetQueueUrlOutput
		if out, err = s.sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name}); err == nil {
			_, err = s.sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String(string(body))})
		}
	}
	if err != nil {
		s.log.Error("send a failed S3 event to its on-failure destination", "destination", dest, "err", err)
	}
}
