package booktest_test

import (
	"testing"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/memstore"
	"github.com/segport/segport/internal/memstore/booktest"
)

func TestJobBookMemstore(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	env := &memstore.Env{Now: func() time.Time { now = now.Add(time.Second); return now }}
	booktest.RunJobBook(t, func() importer.JobBook { return memstore.NewDB(env, 4) })
}
