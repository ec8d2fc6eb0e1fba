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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("s3 data dir: %w", err)
	}
	backend, err := s3afero.MultiBucket(afero.NewBasePathFs(afero.NewOsFs(), dir))
	if err != nil {
		return nil, fmt.Errorf("open s3 backend: %w", err)
	}
	return backend, nil
}

func serveS3(backend gofakes3.Backend, n *notifier) (*s3Server, error) {
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(false))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen s3: %w", err)
	}
	// gofakes3 answers an error after a response has begun when a client
	// cancels a ranged read; net/http would print "superfluous WriteHeader"
	// on the user's terminal for it.
	srv := &http.Server{Handler: n.wrap(newPartsFront(backend, faker.Server())), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	return &s3Server{srv: srv, url: "http://" + ln.Addr().String()}, nil
}

func (s *s3Server) close(ctx context.Context) error {
	if s == nil {
		return nil
	}
	return shutdown(ctx, s.srv, "s3")
}

// shutdown stops a server, waiting up to 5 s for its requests to end.
func shutdown(ctx context.Context, srv *http.Server, what string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		return fmt.Errorf("shut down %s: %w", what, err)
	}
	return nil
}
