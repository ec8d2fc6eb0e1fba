package endpoint

import (
	"errors"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Attr
		wantErr string // the suggestion, or "-" for an unknown name without one
	}{
		// Every attribute of the spec's table.
		{name: "Address", input: "Address", want: Attr{Kind: KindAddress}},
		{name: "Attributes.custom", input: "Attributes.Interests", want: Attr{Kind: KindAttribute, Custom: "Interests"}},
		{name: "ChannelType", input: "ChannelType", want: Attr{Kind: KindChannelType}},
		{name: "Demographic.AppVersion", input: "Demographic.AppVersion", want: Attr{Kind: KindAppVersion}},
		{name: "Demographic.Locale", input: "Demographic.Locale", want: Attr{Kind: KindLocale}},
		{name: "Demographic.Make", input: "Demographic.Make", want: Attr{Kind: KindMake}},
		{name: "Demographic.Model", input: "Demographic.Model", want: Attr{Kind: KindModel}},
		{name: "Demographic.ModelVersion", input: "Demographic.ModelVersion", want: Attr{Kind: KindModelVersion}},
		{name: "Demographic.Platform", input: "Demographic.Platform", want: Attr{Kind: KindPlatform}},
		{name: "Demographic.PlatformVersion", input: "Demographic.PlatformVersion", want: Attr{Kind: KindPlatformVersion}},
		{name: "Demographic.Timezone", input: "Demographic.Timezone", want: Attr{Kind: KindTimezone}},
		{name: "EffectiveDate", input: "EffectiveDate", want: Attr{Kind: KindEffectiveDate}},
		{name: "EndpointStatus", input: "EndpointStatus", want: Attr{Kind: KindEndpointStatus}},
		{name: "Id", input: "Id", want: Attr{Kind: KindId}},
		{name: "Location.City", input: "Location.City", want: Attr{Kind: KindCity}},
		{name: "Location.Country", input: "Location.Country", want: Attr{Kind: KindCountry}},
		{name: "Location.Latitude", input: "Location.Latitude", want: Attr{Kind: KindLatitude}},
		{name: "Location.Longitude", input: "Location.Longitude", want: Attr{Kind: KindLongitude}},
		{name: "Location.PostalCode", input: "Location.PostalCode", want: Attr{Kind: KindPostalCode}},
		{name: "Location.Region", input: "Location.Region", want: Attr{Kind: KindRegion}},
		{name: "Metrics.custom", input: "Metrics.sessions", want: Attr{Kind: KindMetric, Custom: "sessions"}},
		{name: "OptOut", input: "OptOut", want: Attr{Kind: KindOptOut}},
		{name: "RequestId", input: "RequestId", want: Attr{Kind: KindRequestId}},
		{name: "User.UserAttributes.custom", input: "User.UserAttributes.FirstName", want: Attr{Kind: KindUserAttribute, Custom: "FirstName"}},
		{name: "User.UserId", input: "User.UserId", want: Attr{Kind: KindUserId}},
		{name: "custom name with dots", input: "Attributes.a.b", want: Attr{Kind: KindAttribute, Custom: "a.b"}},

		// Unknown names, with a suggestion when one is close.
		{name: "wrong case", input: "Demographic.make", wantErr: "Demographic.Make"},
		{name: "typo", input: "Adress", wantErr: "Address"},
		{name: "two typos", input: "ChanelTyp", wantErr: "ChannelType"},
		{name: "family in wrong case", input: "attributes.Interests", wantErr: "Attributes.Interests"},
		{name: "user family typo", input: "User.UserAtributes.Age", wantErr: "User.UserAttributes.Age"},
		{name: "metrics singular", input: "Metric.sessions", wantErr: "Metrics.sessions"},
		{name: "family without a name", input: "Attributes.", wantErr: "-"},
		{name: "group alone", input: "Location", wantErr: "-"},
		{name: "far from everything", input: "Favourite colour", wantErr: "-"},
		{name: "very long", input: strings.Repeat("Address", 1000), wantErr: "-"},
		{name: "empty", input: "", wantErr: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Lookup(tt.input)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Lookup(%q): %v", tt.input, err)
				}
				if got != tt.want {
					t.Fatalf("Lookup(%q) = %+v, want %+v", tt.input, got, tt.want)
				}
				if got.Name() != tt.input {
					t.Fatalf("Name() = %q, want %q", got.Name(), tt.input)
				}
				return
			}
			var ue *UnknownAttributeError
			if !errors.As(err, &ue) {
				t.Fatalf("Lookup(%q) = %+v, %v; want an UnknownAttributeError", tt.input, got, err)
			}
			want := tt.wantErr
			if want == "-" {
				want = ""
			}
			if ue.Suggestion != want {
				t.Fatalf("suggestion %q, want %q", ue.Suggestion, want)
			}
			if want != "" && !strings.Contains(ue.Error(), "did you mean "+want+"?") {
				t.Fatalf("message %q does not suggest %s", ue.Error(), want)
			}
		})
	}
}

// TestUnknownAttributeMessage: a plain name close to no attribute is most likely
// a custom attribute without its family.
func TestUnknownAttributeMessage(t *testing.T) {
	tests := []struct{ input, want string }{
		{"FavouriteColour", "unknown attribute; custom attributes are named Attributes.FavouriteColour, Metrics.FavouriteColour or User.UserAttributes.FavouriteColour"},
		{"Favourite colour", "unknown attribute; custom attributes are named Attributes.Favourite colour, Metrics.Favourite colour or User.UserAttributes.Favourite colour"},
		{"Adress", "did you mean Address? (unknown attribute)"},
		{"Location.Colour", "unknown attribute"}, // a dotted name is not a custom one
		{"Location", "unknown attribute; custom attributes are named Attributes.Location, Metrics.Location or User.UserAttributes.Location"},
		{" Colour", "unknown attribute"},
		{"Col\x01our", "unknown attribute"},
		{"", "unknown attribute"},
		{strings.Repeat("x", 201), "unknown attribute"},
	}
	for _, tt := range tests {
		_, err := Lookup(tt.input)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Lookup(%q): %v, want %q", tt.input, err, tt.want)
		}
	}
}

func TestAttrFamilies(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		multi, cus bool
	}{
		{"Attributes are lists", "Attributes.x", true, true},
		{"user attributes are lists", "User.UserAttributes.x", true, true},
		{"metrics are single numbers", "Metrics.x", false, true},
		{"fixed", "Demographic.Make", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Lookup(tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if a.MultiValue() != tt.multi || a.IsCustom() != tt.cus {
				t.Fatalf("MultiValue %v IsCustom %v, want %v %v", a.MultiValue(), a.IsCustom(), tt.multi, tt.cus)
			}
		})
	}
}
