package segment

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // "" for a valid name
	}{
		{name: "plain", in: "spring customers"},
		{name: "unicode kept", in: "clients été 東京 🚀"},
		{name: "dots inside", in: "a..b.c"},
		{name: "upper-case hex is a name", in: "22FD417F064FF33E"},
		{name: "15 hex digits", in: "22fd417f064ff33"},
		{name: "longest", in: strings.Repeat("é", MaxNameBytes/2)},
		{name: "empty", in: "", wantErr: `segment name "": a segment name cannot be empty`},
		{name: "slash", in: "a/b", wantErr: `segment name "a/b": a segment name cannot contain "/"`},
		{name: "parent", in: "../reports", wantErr: `segment name "../reports": a segment name cannot contain "/"`},
		{name: "dot", in: ".", wantErr: `segment name ".": a segment name cannot be "." or ".."`},
		{name: "dot dot", in: "..", wantErr: `segment name "..": a segment name cannot be "." or ".."`},
		{name: "control", in: "a\x1bb", wantErr: `segment name "a\x1bb": a segment name cannot contain the control character U+001B (byte 2)`},
		{name: "C1 control", in: "a\u0085", wantErr: "control character U+0085"},
		{name: "FFFF", in: "a\uffff", wantErr: "control character U+FFFF"},
		{name: "not UTF-8", in: "a\xff", wantErr: "a segment name must be UTF-8"},
		{name: "id form", in: "22fd417f064ff33e", wantErr: "that is the form of a segment id"},
		{name: "too long", in: strings.Repeat("x", 60<<10), wantErr: `segment name "` + strings.Repeat("x", 64) + `"... (61440 bytes): a segment name is at most 255 bytes of UTF-8, this one has 61440`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckName(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckName(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckName(%q) = %v, want %q", tt.in, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("CheckName(%q) does not wrap ErrInvalidName", tt.in)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	if got := IdOf("spring customers"); got != "22fd417f064ff33e" {
		t.Fatalf("IdOf = %s, want the README's 22fd417f064ff33e", got)
	}
	for _, tt := range []struct{ ref, want, wantErr string }{
		{ref: "spring customers", want: "22fd417f064ff33e"},
		{ref: "22fd417f064ff33e", want: "22fd417f064ff33e"},
		{ref: "ids", want: IdOf("ids")},
		{ref: "a/b", wantErr: `cannot contain "/"`},
		{ref: "..", wantErr: `cannot be "." or ".."`},
	} {
		got, err := Resolve(tt.ref)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(%q) = %q, %v; want error %q", tt.ref, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
	if err := CheckId("ids"); err == nil || !strings.Contains(err.Error(), "16 lower-case hex digits") {
		t.Errorf("CheckId(ids) = %v", err)
	}
	if err := CheckId(IdOf("x")); err != nil {
		t.Errorf("CheckId(IdOf(x)) = %v", err)
	}
}
