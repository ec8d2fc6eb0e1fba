package endpoint

import "testing"

func TestAttributeBytes(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		want   int
	}{
		{name: "spec's limits", limits: DefaultLimits(), want: 5888},
		{name: "zero value", limits: Limits{}, want: 5888},
		{name: "more names, fewer bytes", limits: Limits{CustomAttributeNames: 100}, want: 3038},
		{name: "given", limits: Limits{AttributeBytes: 100}, want: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.limits.WithDefaults()
			if l.AttributeBytes != tt.want {
				t.Fatalf("AttributeBytes = %d, want %d", l.AttributeBytes, tt.want)
			}
			if tt.limits.AttributeBytes == 0 && (standardAttributes+l.CustomAttributeNames)*l.AttributeBytes > itemBudget {
				t.Fatalf("an item may take %d bytes, over the budget", (standardAttributes+l.CustomAttributeNames)*l.AttributeBytes)
			}
		})
	}
	// standardAttributes counts what an Endpoints item holds besides custom
	// attributes: every standard attribute, and User.UserId once more.
	b := NewBuilder(Limits{})
	for _, kv := range []kv{{"Id", "x"}, {"ChannelType", "SMS"}, {"Address", "+12065550182"}, {"EndpointStatus", "ACTIVE"}, {"OptOut", "NONE"},
		{"EffectiveDate", "20171011T150548Z"}, {"RequestId", "r"}, {"Location.City", "c"}, {"Location.Country", "USA"},
		{"Location.PostalCode", "p"}, {"Location.Region", "r"}, {"Location.Latitude", "1"}, {"Location.Longitude", "1"}, {"Demographic.AppVersion", "1"},
		{"Demographic.Locale", "en_US"}, {"Demographic.Make", "m"}, {"Demographic.Model", "m"}, {"Demographic.ModelVersion", "1"}, {"Demographic.Platform", "p"},
		{"Demographic.PlatformVersion", "1"}, {"Demographic.Timezone", "UTC"}, {"User.UserId", "u"}} {
		a, err := Lookup(kv.name)
		if err != nil {
			t.Fatal(err)
		}
		b.Set(a, kv.value)
	}
	b.Set(Attr{Kind: KindCreationDate}, "20171011T150548Z") // set by the writer, not by files
	e, ferr := b.Finish()
	if ferr != nil {
		t.Fatal(ferr)
	}
	n := 1
	e.Each(func(Attr) { n++ })
	if n != standardAttributes {
		t.Fatalf("an Endpoints item holds %d standard attributes, standardAttributes says %d", n, standardAttributes)
	}
}
