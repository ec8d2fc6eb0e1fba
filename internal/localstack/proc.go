package localstack

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

const (
	emulatorStartTimeout = 30 * time.Second
	emulatorStopGrace    = 5 * time.Second
)

// emulator is one node child process serving an AWS API on a unix socket.
type emulator struct {
	name   string
	cmd    *exec.Cmd
	socket string
	exited chan struct{} // closed once the process has been waited for
	stderr *ringBuffer
}

// startEmulator runs the launcher script for kind on socket and waits until
// the server reports it listens and answers HTTP.
func startEmulator(ctx context.Context, nodeDir, kind, socket string, args ...string) (*emulator, error) {
	cmd := exec.Command("node", append([]string{"emulator.mjs", kind, socket}, args...)...)
	cmd.Dir = nodeDir
	cmd.SysProcAttr = childAttr()
	e := &emulator{name: kind, cmd: cmd, socket: socket, exited: make(chan struct{}), stderr: &ringBuffer{max: 4096}}
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
	err = e.readReady(ctx, stdout)
	if err == nil {
		err = waitHTTP(ctx, socketClient(socket), "http://emulator/", e.exited)
	}
	if err != nil {
		e.stop()
		return nil, fmt.Errorf("start %s: %w (stderr: %s)", kind, err, e.stderr.String())
	}
	return e, nil
}

// readReady reads the launcher's {"ready":true} line, then drains stdout.
func (e *emulator) readReady(ctx context.Context, stdout io.Reader) error {
	ch := make(chan error, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadBytes('\n')
		var msg struct{ Ready bool }
		if err == nil {
			err = json.Unmarshal(line, &msg)
		}
		if err == nil && !msg.Ready {
			err = fmt.Errorf("unexpected line %q", line)
		}
		ch <- err
		io.Copy(io.Discard, r)
	}()
	ctx, cancel := context.WithTimeout(ctx, emulatorStartTimeout)
	defer cancel()
	select {
	case err := <-ch:
		if err != nil {
			return fmt.Errorf("read readiness: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for readiness: %w", ctx.Err())
	}
}

// socketClient is an HTTP client for a server on a unix socket.
func socketClient(socket string) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialSocket(ctx, socket)
	}}
	return &http.Client{Transport: tr}
}

// waitHTTP polls url with c until any HTTP response comes back.
func waitHTTP(ctx context.Context, c *http.Client, url string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, emulatorStartTimeout)
	defer cancel()
	for {
		if answersWith(ctx, c, url) {
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

func answers(ctx context.Context, url string) bool { return answersWith(ctx, http.DefaultClient, url) }

func answersWith(ctx context.Context, c *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
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
