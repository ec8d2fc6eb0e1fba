package decode

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/segport/segport/internal/decode/internal/gen"
	"github.com/segport/segport/pkg/endpoint"
)

// TestNoDerivedIdSameVerdicts decodes files with and without NoDerivedId: every
// row gets the same verdict and the same endpoint, but for the Id left empty
// where it would be derived.
func TestNoDerivedIdSameVerdicts(t *testing.T) {
	// Rows around a small size limit, which only the derived Id's 32 bytes
	// push some of over.
	var near strings.Builder
	near.WriteString("ChannelType,Address,Attributes.Note\n")
	for n := range 40 {
		fmt.Fprintf(&near, "EMAIL,a@example.com,%s\n", strings.Repeat("x", n))
	}
	tests := []struct {
		name   string
		format Format
		data   []byte
		limits endpoint.Limits
	}{
		{"wide csv", CSV, gen.Rows(gen.CSV, 1, 2000), endpoint.Limits{}},
		{"narrow csv", CSV, gen.Narrow(1, 2000), endpoint.Limits{}},
		{"ndjson", JSON, gen.Rows(gen.JSON, 1, 2000), endpoint.Limits{}},
		{"size limit", CSV, []byte(near.String()), endpoint.Limits{EndpointBytes: 80}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			with := New(tc.format, bytes.NewReader(tc.data), Options{Limits: tc.limits})
			without := New(tc.format, bytes.NewReader(tc.data), Options{Limits: tc.limits, NoDerivedId: true})
			valid, invalid := 0, 0
			for {
				a, errA := with.Decode()
				b, errB := without.Decode()
				if fmt.Sprint(errA) != fmt.Sprint(errB) {
					t.Fatalf("errors differ: %v, with NoDerivedId %v", errA, errB)
				}
				if errA == io.EOF {
					break
				}
				if errA != nil {
					invalid++
					continue
				}
				valid++
				got := *b.Endpoint
				if got.Id != "" {
					t.Fatalf("line %d: Id %q with NoDerivedId", b.Line, got.Id)
				}
				got.Id = endpoint.DerivedId(got.ChannelType, got.Address)
				x, _ := a.Endpoint.MarshalCanonical()
				y, _ := got.MarshalCanonical()
				if !bytes.Equal(x, y) {
					t.Fatalf("line %d: endpoints differ:\n%s\n%s", a.Line, x, y)
				}
			}
			if valid == 0 || tc.name == "size limit" && invalid == 0 {
				t.Errorf("%d valid, %d invalid rows: the test tests nothing", valid, invalid)
			}
		})
	}
}
