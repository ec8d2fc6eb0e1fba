package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
)

const stateFile = "stack.json"

// state is what stack.json records about a running stack.
type state struct {
	PID          int                          `json:"pid"`
	Endpoints    Endpoints                    `json:"endpoints"`
	S3Port       int                          `json:"s3Port"`
	FauxqsPID    int                          `json:"fauxqsPid"`
	DynalitePID  int                          `json:"dynalitePid"`
	Bucket       string                       `json:"bucket"`
	Resources    map[string]string            `json:"resources"`
	DeadLetters  map[string]string            `json:"deadLetters"`
	Env          map[string]string            `json:"env"`
	FunctionEnv  map[string]map[string]string `json:"functionEnv"`
	EventSources []EventSource                `json:"eventSources"`
}

func (s *Stack) writeState() error {
	u, err := url.Parse(s.Endpoints.S3)
	if err != nil {
		return fmt.Errorf("s3 endpoint: %w", err)
	}
	port, _ := strconv.Atoi(u.Port())
	st := state{
		PID: os.Getpid(), Endpoints: s.Endpoints, S3Port: port,
		FauxqsPID: s.fauxqs.pid(), DynalitePID: s.dynalite.pid(),
		Bucket: s.Bucket, Resources: s.Resources, DeadLetters: s.DeadLetters,
		Env: s.global, FunctionEnv: s.functionEnv, EventSources: s.sources,
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stack state: %w", err)
	}
	if err := writeIfChanged(filepath.Join(s.dataDir, stateFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write stack state: %w", err)
	}
	return nil
}

func readState(dataDir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, stateFile))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decode %s: %w", stateFile, err)
	}
	return &st, nil
}

// Attach returns a client-only Stack for the live stack recorded in dataDir
// (a `segport dev` process, say), and false when there is none. It owns no
// servers: it runs no mappings and its Close does nothing.
func Attach(ctx context.Context, dataDir string) (*Stack, bool, error) {
	st, err := readState(dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("attach to local stack: %w", err)
	}
	if !st.live(ctx) {
		return nil, false, nil
	}
	creds, err := loadCredentials(dataDir)
	if err != nil {
		return nil, false, fmt.Errorf("attach to local stack: %w", err)
	}
	s := &Stack{
		creds: creds, Endpoints: st.Endpoints, Bucket: st.Bucket, Resources: st.Resources, DeadLetters: st.DeadLetters,
		global: st.Env, functionEnv: st.FunctionEnv, sources: st.EventSources,
		clients: newClients(st.Endpoints, creds), dataDir: dataDir, log: slog.Default(),
	}
	return s, true, nil
}

// live reports whether the recording process runs and every endpoint answers.
func (st *state) live(ctx context.Context) bool {
	if !processAlive(st.PID) {
		return false
	}
	for _, u := range []string{st.Endpoints.S3, st.Endpoints.SQS, st.Endpoints.DynamoDB} {
		if u == "" || !answers(ctx, u) {
			return false
		}
	}
	return true
}
