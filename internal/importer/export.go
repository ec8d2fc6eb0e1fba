package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/pinpointexport"
	"github.com/segport/segport/pkg/job"
)

// ParseFormat accepts the file formats (csv, json) and PINPOINT_EXPORT, the
// output of a Pinpoint export job (internal/pinpointexport), in any case.
func ParseFormat(s string) (decode.Format, error) {
	if strings.EqualFold(s, string(pinpointexport.Format)) {
		return pinpointexport.Format, nil
	}
	f, err := decode.ParseFormat(s)
	if err != nil {
		return "", fmt.Errorf("unknown format %q: want csv, json or %s", s, pinpointexport.Format)
	}
	return f, nil
}

// newDecoder returns the decoder of format f.
func newDecoder(f decode.Format, r io.Reader, opts decode.Options) decode.Decoder {
	if f == pinpointexport.Format {
		return pinpointexport.NewDecoder(r, opts)
	}
	return decode.New(f, r, opts)
}

// compressed reports whether an export object is compressed: then it is read
// as one piece, as a gzip stream cannot be entered at a byte offset. (The
// decoder refuses other compressions, once, with the reason.) An uncompressed
// export is split at newlines like any NDJSON file.
func compressed(ctx context.Context, objects Objects, o *job.Object) (whole bool, reason string, err error) {
	r, err := objects.Range(ctx, o.Bucket, o.Key, 0, min(o.Size, 6))
	if errors.Is(err, job.ErrNotFound) {
		return false, vanished(o), nil
	}
	if err != nil {
		return false, "", err
	}
	defer r.Close()
	head, err := io.ReadAll(r)
	if err != nil {
		return false, "", fmt.Errorf("read the start of s3://%s/%s: %w", o.Bucket, o.Key, err)
	}
	return decode.Compression(head) != "", "", nil
}

// logExportCounts logs what the decoder of an export piece converted, kept and
// ignored: field names and numbers of rows, never values.
func logExportCounts(l *slog.Logger, m *job.ParseMessage, dec decode.Decoder) {
	d, ok := dec.(*pinpointexport.Decoder)
	if !ok {
		return
	}
	c := d.Counts()
	converted := 0
	for _, n := range c.Converted { // only Location.Country is converted
		converted += n
	}
	if len(c.Ignored) == 0 && len(c.Kept) == 0 && converted == 0 {
		return
	}
	logger(l).Info("export fields ignored, kept and converted", "job", m.JobId, "piece", m.Piece.Index,
		"ignored", c.Ignored, "kept", c.Kept, "countriesConverted", converted)
}
