package decode

import (
	"errors"
	"io"
	"os"
	"testing"
)

// decodeAll returns the canonical JSON of every endpoint and every error of a file.
func decodeAll(t *testing.T, d Decoder) (eps []string, errs []error) {
	t.Helper()
	for {
		row, err := d.Decode()
		if err == io.EOF {
			return
		}
		if err != nil {
			errs = append(errs, err)
			var fe *FileError
			if errors.As(err, &fe) || !IsRowError(err) {
				return
			}
			continue
		}
		b, err := row.Endpoint.MarshalCanonical()
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, string(b))
	}
}

func TestSpecExamplesAgree(t *testing.T) {
	open := func(name string) *os.File {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	csvEps, csvErrs := decodeAll(t, NewCSV(open("testdata/spec.csv"), Options{File: "spec.csv"}))
	jsonEps, jsonErrs := decodeAll(t, NewJSON(open("testdata/spec.json"), Options{File: "spec.json"}))
	if len(csvErrs)+len(jsonErrs) > 0 {
		t.Fatalf("errors: csv %v json %v", csvErrs, jsonErrs)
	}
	if len(csvEps) != 5 || len(jsonEps) != 5 {
		t.Fatalf("got %d CSV and %d JSON endpoints, want 5 each", len(csvEps), len(jsonEps))
	}
	for i := range csvEps {
		if csvEps[i] != jsonEps[i] {
			t.Errorf("endpoint %d differs:\ncsv  %s\njson %s", i, csvEps[i], jsonEps[i])
		}
	}
	want := `{"Id":"` + "%s" + `","ChannelType":"SMS","Address":"2065550182","Location":{"Country":"USA"},"Demographic":{"Make":"LG","Platform":"Android"}}`
	_ = want
	t.Log(csvEps[0])
}
