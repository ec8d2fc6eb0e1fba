package localstack

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"
)

// s3Server is gofakes3 serving a directory-backed store on 127.0.0.1.
type s3Server struct {
	srv *http.Server
	url string
}

// openS3Backend stores buckets as plain files under dir (objects are read
// with seeks, so ranged GETs of large objects stay cheap) and their metadata
// beside them.
func openS3Backend(dir string) (gofakes3.Backend, error) {
	if err := PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("s3 data dir: %w", err)
	}
	backend, err := s3afero.MultiBucket(privateFs{afero.NewBasePathFs(afero.NewOsFs(), dir)})
	if err != nil {
		return nil, fmt.Errorf("open s3 backend: %w", err)
	}
	return backend, nil
}

// privateFs creates files 0600 and folders 0700, whatever mode its caller
// asks for: objects hold imported rows.
type privateFs struct{ afero.Fs }

func (p privateFs) Create(name string) (afero.File, error) {
	return p.Fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
}

func (p privateFs) Mkdir(name string, _ os.FileMode) error { return p.Fs.Mkdir(name, 0o700) }

func (p privateFs) MkdirAll(path string, _ os.FileMode) error { return p.Fs.MkdirAll(path, 0o700) }

func (p privateFs) OpenFile(name string, flag int, _ os.FileMode) (afero.File, error) {
	return p.Fs.OpenFile(name, flag, 0o600)
}

func serveS3(backend gofakes3.Backend, n *notifier, v sigV4) (*s3Server, error) {
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(false))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen s3: %w", err)
	}
	// gofakes3 answers an error after a response has begun when a client
	// cancels a ranged read; net/http would print "superfluous WriteHeader"
	// on the user's terminal for it.
	srv := &http.Server{Handler: guard(v, "s3", n.wrap(newPartsFront(backend, faker.Server()))), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	return &s3Server{srv: srv, url: "http://" + ln.Addr().String()}, nil
}

func (s *s3Server) close(ctx context.Context) error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
		return fmt.Errorf("shut down s3: %w", err)
	}
	return nil
}
