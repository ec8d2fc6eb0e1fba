package app

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/segport/segport/internal/httpapi"
	"github.com/segport/segport/pkg/client"
)

// API builds the query API on a's tables, with a's trigger behind
// POST /v1/jobs/import. awsCfg must be the configuration a was built with.
func (a *App) API(awsCfg aws.Config, log *slog.Logger) *httpapi.Handler {
	t := a.Config.Tables
	c := client.New(awsCfg, client.Tables{
		Endpoints: t.Endpoints, Users: t.Users, Segments: t.Segments, Members: t.Members, Jobs: t.Jobs,
	})
	return httpapi.New(httpapi.Options{Reader: c, Importer: a.Trigger, Bucket: a.Config.Bucket, Log: log})
}
