package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// ErrInUse means a live local stack already owns the data directory.
var ErrInUse = errors.New("data directory is in use by a running local stack")

// ErrAttached means the call needs a stack this process started.
var ErrAttached = errors.New("not available on an attached stack")

// Options configure Start.
type Options struct {
	// DataDir holds the stack's state: s3/ (objects), dynamo/ (LevelDB
	// tables) and, while it runs, stack.json. Required.
	DataDir string
	// NodeDir is where the emulators are installed (default DataDir/node);
	// SharedNodeDir gives one install per machine.
	NodeDir string
	// Template is the SAM template's content. When empty, TemplatePath is
	// read, or else template.yaml found by walking up from the working directory.
	Template     []byte
	TemplatePath string
	// Parameters override the template parameters' values.
	Parameters map[string]string
	// VisibilityTimeout, when set, replaces every queue's visibility timeout
	// (rounded up to whole seconds).
	VisibilityTimeout time.Duration
	// OnObjectCreated receives the S3 events of the template's S3 event
	// sources, one at a time in order; an error is retried twice.
	OnObjectCreated func(context.Context, events.S3Event) error
	// Invokers run the functions invoked directly (Lambda Invoke on the
	// control plane), by logical id.
	Invokers map[string]Invoker
	Logger   *slog.Logger
	Now      func() time.Time
}

// Endpoints are the emulators' base URLs.
type Endpoints struct {
	S3       string `json:"s3"`
	SQS      string `json:"sqs"`
	DynamoDB string `json:"dynamodb"`
	// Control serves CloudFormation and Lambda (control.go).
	Control string `json:"control"`
}

// Stack is a running local AWS stack, or a client of one (see Attach).
type Stack struct {
	Endpoints Endpoints
	// Bucket is the local name of the template's bucket.
	Bucket string
	// Resources maps logical ids to local physical names: bucket name,
	// queue URL, table name.
	Resources map[string]string
	// DeadLetters maps a queue's logical id to its dead-letter queue's.
	DeadLetters map[string]string

	global      map[string]string
	functionEnv map[string]map[string]string
	sources     []EventSource
	clients

	owned     bool
	dataDir   string
	log       *slog.Logger
	s3srv     *front
	fauxqs    *emulator
	dynalite  *emulator
	fronts    []*front // the guards of fauxqs and dynalite
	sockDir   string   // the emulators' unix sockets
	creds     Credentials
	notifier  *notifier
	control   *controlPlane
	unlock    func()
	act       activity
	mu        sync.Mutex
	mappers   map[*mapper]bool
	closed    bool
	closeOnce sync.Once
}

// Start runs the emulators, provisions the template's resources in them and
// records the stack in DataDir/stack.json for Attach.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.DataDir == "" {
		return nil, errors.New("start local stack: no data directory")
	}
	// The emulators run in another working directory: paths must be absolute.
	for _, dir := range []*string{&opts.DataDir, &opts.NodeDir} {
		if *dir != "" {
			abs, err := filepath.Abs(*dir)
			if err != nil {
				return nil, fmt.Errorf("start local stack: %w", err)
			}
			*dir = abs
		}
	}
	opts = withDefaults(opts)
	tmpl, params, err := readTemplate(opts)
	if err != nil {
		return nil, err
	}
	s := &Stack{owned: true, dataDir: opts.DataDir, log: opts.Logger, mappers: map[*mapper]bool{}}
	if err := s.lockDataDir(); err != nil {
		return nil, err
	}
	if s.creds, err = loadCredentials(s.dataDir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := ensureNode(ctx, opts.NodeDir); err != nil {
		return nil, err
	}
	if err := s.startEmulators(ctx, opts.NodeDir); err != nil {
		return nil, err
	}
	if err := s.provision(ctx, tmpl, params, opts); err != nil {
		return nil, err
	}
	if err := s.writeState(); err != nil {
		return nil, err
	}
	return s, nil
}

func withDefaults(opts Options) Options {
	if opts.NodeDir == "" {
		opts.NodeDir = filepath.Join(opts.DataDir, "node")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return opts
}

func readTemplate(opts Options) (*template, map[string]string, error) {
	data, err := loadTemplate(opts)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := parseTemplate(data)
	if err != nil {
		return nil, nil, err
	}
	params, err := parameterValues(tmpl, opts.Parameters)
	if err != nil {
		return nil, nil, err
	}
	return tmpl, params, nil
}

// lockDataDir holds DataDir/stack.lock for the stack's life, so a second
// Start on the same directory (in any process) is refused.
func (s *Stack) lockDataDir() error {
	if err := PrivateDir(s.dataDir); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	unlock, ok, err := tryLockFile(filepath.Join(s.dataDir, "stack.lock"))
	if err != nil {
		return fmt.Errorf("lock data dir: %w", err)
	}
	if !ok {
		if st, err := readState(s.dataDir); err == nil {
			return fmt.Errorf("start local stack in %s: %w (pid %d, S3 at %s); attach to it instead", s.dataDir, ErrInUse, st.PID, st.Endpoints.S3)
		}
		return fmt.Errorf("start local stack in %s: %w", s.dataDir, ErrInUse)
	}
	s.unlock = unlock
	return nil
}

// startEmulators starts fauxqs and dynalite side by side, each on a unix
// socket in a private temporary folder (short paths: a socket's is limited to
// about 100 bytes), and serves each on 127.0.0.1 behind a guard.
func (s *Stack) startEmulators(ctx context.Context, nodeDir string) error {
	dynamoDir := filepath.Join(s.dataDir, "dynamo")
	if err := PrivateDir(dynamoDir); err != nil {
		return fmt.Errorf("dynamo data dir: %w", err)
	}
	var err error
	if s.sockDir, err = os.MkdirTemp("", "segport-"); err != nil { // 0700
		return fmt.Errorf("emulator socket dir: %w", err)
	}
	var wg sync.WaitGroup
	var sqsErr, ddbErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.fauxqs, sqsErr = startEmulator(ctx, nodeDir, "fauxqs", filepath.Join(s.sockDir, "sqs.sock"))
	}()
	go func() {
		defer wg.Done()
		s.dynalite, ddbErr = startEmulator(ctx, nodeDir, "dynalite", filepath.Join(s.sockDir, "dynamodb.sock"), dynamoDir)
	}()
	wg.Wait()
	if err := errors.Join(sqsErr, ddbErr); err != nil {
		return err
	}
	v := s.verifier()
	for _, e := range []struct {
		emu     *emulator
		service string
		url     *string
	}{{s.fauxqs, "sqs", &s.Endpoints.SQS}, {s.dynalite, "dynamodb", &s.Endpoints.DynamoDB}} {
		f, err := serveFront(guard(v, e.service, socketProxy(e.emu.socket, s.log)))
		if err != nil {
			return fmt.Errorf("serve %s: %w", e.service, err)
		}
		s.fronts = append(s.fronts, f)
		*e.url = f.url
	}
	return nil
}

func (s *Stack) verifier() sigV4 {
	return sigV4{creds: s.creds.aws(), now: time.Now}
}

// provision creates the resources, resolves the functions' environment and
// event sources, then serves S3 with notifications.
func (s *Stack) provision(ctx context.Context, tmpl *template, params map[string]string, opts Options) error {
	backend, err := openS3Backend(filepath.Join(s.dataDir, "s3"))
	if err != nil {
		return err
	}
	s.clients = newClients(s.Endpoints, s.creds) // SQS and DynamoDB only until S3 serves
	p := newProvisioner(tmpl, params)
	p.s3, p.sqs, p.ddb, p.visibility = backend, s.sqsc, s.ddbc, opts.VisibilityTimeout
	if err := p.run(ctx); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	if s.global, s.functionEnv, err = p.res.functionEnvs(); err != nil {
		return fmt.Errorf("resolve environment: %w", err)
	}
	sources, triggers, err := eventSources(tmpl, p.res)
	if err != nil {
		return fmt.Errorf("event sources: %w", err)
	}
	s.sources = sources
	s.Resources, s.DeadLetters = map[string]string{}, p.deadLetters
	for _, typ := range []string{typeBucket, typeQueue, typeTable} {
		for _, id := range tmpl.ofType(typ) {
			s.Resources[id] = p.res.attrs[id][""]
		}
	}
	if buckets := tmpl.ofType(typeBucket); len(buckets) > 0 {
		s.Bucket = s.Resources[buckets[0]]
	}
	s.notifier = newNotifier(triggers, backend, opts.OnObjectCreated, opts.Now, s.log, &s.act)
	s.notifier.failed = s.onFailure
	v := s.verifier()
	if s.s3srv, err = serveS3(backend, s.notifier, v); err != nil {
		return err
	}
	s.Endpoints.S3 = s.s3srv.url
	if s.control, err = newControlPlane(tmpl, params, p.res, sources, opts); err != nil {
		return err
	}
	s.control.pause, s.control.sqs = s.pauseMappings, s.sqsc
	if err := s.control.serve(v); err != nil {
		return err
	}
	s.Endpoints.Control = s.control.url
	s.clients = newClients(s.Endpoints, s.creds)
	return nil
}

// pauseMappings stops or resumes the mappings that read a queue.
func (s *Stack) pauseMappings(queueURL string, paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for mp := range s.mappers {
		if mp.m.QueueURL == queueURL {
			mp.paused.Store(paused)
		}
	}
}

// Env is the template's global function environment merged with every
// function's own, resolved to local values.
func (s *Stack) Env() map[string]string {
	out := maps.Clone(s.global)
	if out == nil {
		out = map[string]string{}
	}
	for _, env := range s.functionEnv {
		maps.Copy(out, env)
	}
	return out
}

// EnvFor is one function's resolved environment.
func (s *Stack) EnvFor(function string) (map[string]string, error) {
	env, ok := s.functionEnv[function]
	if !ok {
		return nil, fmt.Errorf("function %s: %w", function, errUnknownRef)
	}
	return maps.Clone(env), nil
}

// EventSources lists the template's SQS event sources with local queues.
func (s *Stack) EventSources() []EventSource {
	return append([]EventSource(nil), s.sources...)
}

// StartMapping runs an SQS event-source mapping until stop or Close.
func (s *Stack) StartMapping(ctx context.Context, m Mapping) (stop func(), err error) {
	if !s.owned {
		return nil, fmt.Errorf("start mapping: %w", ErrAttached)
	}
	mp, err := newMapper(ctx, s.sqsc, &s.act, s.log, m)
	if err != nil {
		return nil, fmt.Errorf("start mapping: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("start mapping: stack closed")
	}
	mp.paused.Store(s.control != nil && !s.control.mappingEnabled(m.QueueURL))
	mp.start(context.Background())
	s.mappers[mp] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			mp.stop()
			s.mu.Lock()
			delete(s.mappers, mp)
			s.mu.Unlock()
		})
	}, nil
}

// Close stops the mappings, the S3 server and the emulator processes. On an
// attached stack it does nothing.
func (s *Stack) Close() error {
	if !s.owned {
		return nil
	}
	var err error
	s.closeOnce.Do(func() { err = s.shutdown() })
	return err
}

func (s *Stack) shutdown() error {
	s.mu.Lock()
	s.closed = true
	mappers := s.mappers
	s.mappers = map[*mapper]bool{}
	s.mu.Unlock()
	for mp := range mappers {
		mp.stop()
	}
	err := s.s3srv.close(context.Background())
	if err != nil {
		err = fmt.Errorf("shut down s3: %w", err)
	}
	if err2 := s.control.close(context.Background()); err2 != nil {
		err = errors.Join(err, fmt.Errorf("shut down control plane: %w", err2))
	}
	for _, f := range s.fronts {
		err = errors.Join(err, f.close(context.Background()))
	}
	if s.notifier != nil {
		s.notifier.close()
	}
	var wg sync.WaitGroup
	for _, e := range []*emulator{s.fauxqs, s.dynalite} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.stop()
		}()
	}
	wg.Wait()
	if s.sockDir != "" {
		os.RemoveAll(s.sockDir)
	}
	if rmErr := os.Remove(filepath.Join(s.dataDir, stateFile)); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("remove stack state: %w", rmErr))
	}
	if s.unlock != nil {
		s.unlock()
	}
	return err
}
