package localstack

import (
	"fmt"
	"os"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"
)

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

// serveS3 serves gofakes3 on 127.0.0.1 behind its guard. (gofakes3 answers
// an error after a response has begun when a client cancels a ranged read;
// the front's server keeps net/http's "superfluous WriteHeader" complaint off
// the user's terminal.)
func serveS3(backend gofakes3.Backend, n *notifier, v sigV4) (*front, error) {
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(false))
	f, err := serveFront(guard(v, "s3", n.wrap(newPartsFront(backend, faker.Server()))))
	if err != nil {
		return nil, fmt.Errorf("serve s3: %w", err)
	}
	return f, nil
}
