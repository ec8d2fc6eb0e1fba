package localstack

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	emulatorStartTimeout = 30 * time.Second
	emulatorStopGrace    = 5 * time.Second
)

// emulator is one node child process serving an AWS API on 127.0.0.1.
type emulator struct {
	name   string
	cmd    *exec.Cmd
	url    string
	exited chan struct{} // closed once the process has been waited for
	stderr *ringBuffer
}

// startEmulator runs the launcher script for kind and waits until the
// server reports its port and answers HTTP.
func startEmulator(ctx context.Context, nodeDir, kind string, args ...string) (*emulator, error) {
	cmd := exec.Command("node", append([]string{"emulator.mjs", kind}, args...)...)
	cmd.Dir = nodeDir
	cmd.SysProcAttr = childAttr()
	e := &emulator{name: kind, cmd: cmd, exited: make(chan struct{}), stderr: &ringBuffer{max: 4096}}
	cmd.Stderr = e.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	go func() {
		cmd.Wait()
		close(e.exited)
	}()
	port, err := e.readPort(ctx, stdout)
	if err == nil {
		e.url = "http://127.0.0.1:" + strconv.Itoa(port)
		err = waitHTTP(ctx, e.url, e.exited)
	}
	if err != nil {
		e.stop()
		return nil, fmt.Errorf("start %s: %w (stderr: %s)", kind, err, e.stderr.String())
	}
	return e, nil
}

// readPort reads the launcher's {"port":N} line, then drains stdout.
func (e *emulator) readPort(ctx context.Context, stdout io.Reader) (int, error) {
	type result struct {
		port int
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadBytes('\n')
		var msg struct{ Port int }
		if err == nil {
			err = json.Unmarshal(line, &msg)
		}
		ch <- result{msg.Port, err}
		io.Copy(io.Discard, r)
	}()
	ctx, cancel := context.WithTimeout(ctx, emulatorStartTimeout)
	defer cancel()
	select {
	case res := <-ch:
		if res.err != nil {
			return 0, fmt.Errorf("read port: %w", res.err)
		}
		return res.port, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("wait for port: %w", ctx.Err())
	}
}

// waitHTTP polls url until any HTTP response comes back.
func waitHTTP(ctx context.Context, url string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, emulatorStartTimeout)
	defer cancel()
	for {
		if answers(ctx, url) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func answers(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// stop sends SIGTERM, then SIGKILL after a grace period, and waits.
func (e *emulator) stop() {
	if e == nil || e.cmd.Process == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
		return
	case <-time.After(emulatorStopGrace):
	}
	e.cmd.Process.Kill()
	<-e.exited
}

func (e *emulator) pid() int {
	if e == nil || e.cmd.Process == nil {
		return 0
	}
	return e.cmd.Process.Pid
}

// ringBuffer keeps the last max bytes written, for error messages.
type ringBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *ringBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

func (b *ringBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return tail(b.buf, b.max)
}
