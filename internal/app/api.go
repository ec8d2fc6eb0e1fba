package app

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/segport/segport/internal/console"
	"github.com/segport/segport/internal/httpapi"
	"github.com/segport/segport/pkg/client"
)

// API builds the query API on a's tables, with a's trigger behind
// POST /v1/jobs/import. awsCfg must be the configuration a was built with.
func (a *App) API(awsCfg aws.Config, log *slog.Logger) *httpapi.Handler {
	c := a.client(awsCfg)
	return httpapi.New(httpapi.Options{Reader: c, Importer: a.Trigger, Deleter: c, Bucket: a.Config.Bucket, Log: log})
}

// Console builds the web console in front of the query API (API), which it
// serves on the same origin: uploads go to a's bucket, imports start on a's
// trigger.
func (a *App) Console(awsCfg aws.Config, log *slog.Logger) *console.Handler {
	return console.New(console.Options{
		API: a.API(awsCfg, log), Reader: a.client(awsCfg), Objects: a.Objects, Importer: a.Trigger,
		Bucket: a.Config.Bucket, Limits: a.Config.Limits, Log: log,
	})
}

func (a *App) client(awsCfg aws.Config) *client.Client {
	t := a.Config.Tables
	return client.New(awsCfg, client.Tables{
		Endpoints: t.Endpoints, Users: t.Users, Segments: t.Segments, Members: t.Members, Jobs: t.Jobs,
	})
}

// Client is pkg/client on a's tables, with a's SDK configuration: the CLI's
// deletes go through it, as the API's do.
func (a *App) Client() *client.Client { return a.client(a.AWS) }
