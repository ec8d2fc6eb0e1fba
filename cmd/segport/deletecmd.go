package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/segment"
)

// deleteCmd runs segport endpoints|users delete ID... and segport segments
// delete NAME, through pkg/client as the API's DELETE routes do.
func deleteCmd(ctx context.Context, noun string, ids []string, sf *stackFlags, stdout io.Writer) error {
	if len(ids) == 0 || (noun == "segments" && len(ids) != 1) {
		return usageErr("usage: segport %s delete %s", noun, map[string]string{"segments": "NAME|ID", "endpoints": "ID...", "users": "USER_ID..."}[noun])
	}
	if noun == "segments" {
		if _, err := segment.Resolve(ids[0]); err != nil {
			return &exitError{code: codeError, err: err}
		}
	}
	t, err := openTarget(ctx, sf, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	c := t.app.Client()
	var res *client.DeleteResult
	switch noun {
	case "segments":
		seg, err := c.DeleteSegment(ctx, ids[0])
		if errors.Is(err, client.ErrImportsRunning) {
			return &exitError{code: codeError, err: fmt.Errorf("segment %s: %w", segment.QuoteShort(ids[0]), err)}
		}
		if err != nil {
			return err
		}
		if sf.json {
			printJSON(stdout, map[string]any{"SegmentId": seg.Id, "Name": seg.Name, "Deleted": true})
		} else {
			fmt.Fprintf(stdout, "deleted segment %s (%s): its versions and %d members; the endpoints stay\n", seg.Name, seg.Id, seg.EndpointCount)
		}
		return nil
	case "endpoints":
		res, err = c.DeleteEndpoints(ctx, ids)
	case "users":
		res, err = c.DeleteUsers(ctx, ids)
	}
	if errors.Is(err, client.ErrInvalidId) {
		return &exitError{code: codeError, err: err}
	}
	if err != nil {
		return err
	}
	if sf.json {
		printJSON(stdout, res)
	} else {
		fmt.Fprintf(stdout, "deleted %s: %d asked for, %d of them stored; ordered at %s\n", noun, res.Requested, res.Found, res.Stamp)
	}
	return nil
}
