package chaos

import (
	"errors"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Spec
		wantErr bool
	}{
		{"all", "duplicate=0.5,reorder=1,crash=0.1,throttle=0.2,unprocessed=0.3,seed=42",
			Spec{Duplicate: 0.5, Reorder: 1, Crash: 0.1, Throttle: 0.2, Unprocessed: 0.3, Seed: 42}, false},
		{"some, spaced", " crash = 0.25 , seed=7,", Spec{Crash: 0.25, Seed: 7}, false},
		{"zero and one", "throttle=0,unprocessed=1,seed=0", Spec{Unprocessed: 1}, false},
		{"unknown fault", "latency=0.1,seed=1", Spec{}, true},
		{"misspelled", "duplicates=0.1,seed=1", Spec{}, true},
		{"above one", "crash=1.5,seed=1", Spec{}, true},
		{"negative", "crash=-0.1,seed=1", Spec{}, true},
		{"not a number", "crash=often,seed=1", Spec{}, true},
		{"NaN", "crash=NaN,seed=1", Spec{}, true},
		{"no value", "crash,seed=1", Spec{}, true},
		{"empty value", "crash=,seed=1", Spec{}, true},
		{"negative seed", "seed=-1", Spec{}, true},
		{"fractional seed", "seed=1.5", Spec{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSpec(tt.input)
			if tt.wantErr {
				if !errors.Is(err, ErrSpec) {
					t.Fatalf("ParseSpec(%q) = %+v, %v; want an ErrSpec", tt.input, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSpec(%q) = %+v, %v; want %+v", tt.input, got, err, tt.want)
			}
			if back, err := ParseSpec(got.String()); err != nil || back != got {
				t.Fatalf("ParseSpec(%q) = %+v, %v; want it back", got.String(), back, err)
			}
		})
	}
}

func TestParseSpecWithoutSeedPicksOne(t *testing.T) {
	a, err := ParseSpec("crash=0.1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Seed == 0 {
		t.Fatalf("no seed chosen: %+v", a)
	}
}
