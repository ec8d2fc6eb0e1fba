package endpoint

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// kv is one attribute value as a CSV header and cell would give it.
type kv struct{ name, value string }

const (
	idSMS   = `"Id":"` // followed by the derived Id, checked separately
	smsBase = `"ChannelType":"SMS","Address":"+12065550182"`
)

// build runs the attribute values through a Builder.
func build(t *testing.T, limits Limits, in []kv) (*Endpoint, *FieldError) {
	t.Helper()
	b := NewBuilder(limits)
	for _, p := range in {
		a, err := Lookup(p.name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", p.name, err)
		}
		b.Set(a, p.value)
	}
	e, ferr := b.Finish()
	if ferr == nil && b.size != e.Size() {
		t.Fatalf("the Builder counted %d bytes, Size says %d", b.size, e.Size())
	}
	return e, ferr
}

// sms prefixes the attribute values of a valid new SMS endpoint.
func sms(more ...kv) []kv {
	return append([]kv{{"ChannelType", "SMS"}, {"Address", "+1 (206) 555-0182"}}, more...)
}

func TestBuilder(t *testing.T) {
	derived := DerivedId("SMS", "+12065550182")
	long := func(n int) string { return strings.Repeat("x", n) }
	many := func(prefix string, n int, value string) []kv {
		var out []kv
		for i := range n {
			out = append(out, kv{prefix + "n" + string(rune('a'+i/26)) + string(rune('a'+i%26)), value})
		}
		return out
	}
	tests := []struct {
		name    string
		limits  Limits
		input   []kv
		want    string // canonical JSON without the Id, or "" when an error is wanted
		wantErr string // substring of the error
	}{
		// Required fields.
		{name: "new endpoint", input: sms(), want: smsBase},
		{name: "update by Id alone", input: []kv{{"Id", "ep-1"}, {"Demographic.Make", "LG"}}, want: `"Id":"ep-1","Demographic":{"Make":"LG"}`},
		{name: "Id kept with address", input: sms(kv{"Id", "ep-1"}), want: `"Id":"ep-1",` + smsBase},
		{name: "nothing", input: []kv{{"Demographic.Make", "LG"}}, wantErr: "Id: missing"},
		{name: "no channel", input: []kv{{"Address", "+12065550182"}}, wantErr: "ChannelType: missing"},
		{name: "no address", input: []kv{{"ChannelType", "SMS"}}, wantErr: "Address: missing"},
		{name: "blank values are absent", input: []kv{{"ChannelType", "  "}, {"Address", ""}, {"Id", "x"}}, want: `"Id":"x"`},
		{name: "Id too long", input: []kv{{"Id", long(129)}}, wantErr: "Id: longer than 128 bytes"},
		{name: "Id control character", input: []kv{{"Id", "a\x01b"}}, wantErr: "Id: value holds the control character U+0001"},
		{name: "Id DEL", input: []kv{{"Id", "a\x7fb"}}, wantErr: "Id: contains control characters"},

		// ChannelType: the whole current set, any case.
		{name: "channel GCM", input: []kv{{"ChannelType", "GCM"}, {"Address", "tok"}}, want: `"ChannelType":"GCM","Address":"tok"`},
		{name: "channel APNS", input: []kv{{"ChannelType", "APNS"}, {"Address", "tok"}}, want: `"ChannelType":"APNS","Address":"tok"`},
		{name: "channel APNS_SANDBOX", input: []kv{{"ChannelType", "APNS_SANDBOX"}, {"Address", "tok"}}, want: `"ChannelType":"APNS_SANDBOX","Address":"tok"`},
		{name: "channel APNS_VOIP", input: []kv{{"ChannelType", "APNS_VOIP"}, {"Address", "tok"}}, want: `"ChannelType":"APNS_VOIP","Address":"tok"`},
		{name: "channel APNS_VOIP_SANDBOX", input: []kv{{"ChannelType", "APNS_VOIP_SANDBOX"}, {"Address", "tok"}}, want: `"ChannelType":"APNS_VOIP_SANDBOX","Address":"tok"`},
		{name: "channel ADM", input: []kv{{"ChannelType", "ADM"}, {"Address", "tok"}}, want: `"ChannelType":"ADM","Address":"tok"`},
		{name: "channel SMS", input: []kv{{"ChannelType", "SMS"}, {"Address", "2065550182"}}, want: `"ChannelType":"SMS","Address":"2065550182"`},
		{name: "channel VOICE", input: []kv{{"ChannelType", "VOICE"}, {"Address", "+44 20 7946 0958"}}, want: `"ChannelType":"VOICE","Address":"+442079460958"`},
		{name: "channel EMAIL", input: []kv{{"ChannelType", "EMAIL"}, {"Address", "John.Stiles@Example.com"}}, want: `"ChannelType":"EMAIL","Address":"john.stiles@example.com"`},
		{name: "channel BAIDU", input: []kv{{"ChannelType", "BAIDU"}, {"Address", "tok"}}, want: `"ChannelType":"BAIDU","Address":"tok"`},
		{name: "channel CUSTOM", input: []kv{{"ChannelType", "CUSTOM"}, {"Address", "https://hook.example/x"}}, want: `"ChannelType":"CUSTOM","Address":"https://hook.example/x"`},
		{name: "channel IN_APP", input: []kv{{"ChannelType", "IN_APP"}, {"Address", "tok"}}, want: `"ChannelType":"IN_APP","Address":"tok"`},
		{name: "channel PUSH", input: []kv{{"ChannelType", "PUSH"}, {"Address", "tok"}}, want: `"ChannelType":"PUSH","Address":"tok"`},
		{name: "channel push lower case", input: []kv{{"ChannelType", "push"}, {"Address", "tok"}}, want: `"ChannelType":"PUSH","Address":"tok"`},
		{name: "channel PUSH address with space", input: []kv{{"ChannelType", "PUSH"}, {"Address", "to k"}}, wantErr: "Address:"},
		{name: "channel lower case", input: []kv{{"ChannelType", "apns_voip"}, {"Address", "tok"}}, want: `"ChannelType":"APNS_VOIP","Address":"tok"`},
		{name: "channel unknown", input: []kv{{"ChannelType", "PIGEON"}, {"Address", "x"}}, wantErr: `ChannelType: not one of GCM, APNS`},

		// Address per channel.
		{name: "email without at", input: []kv{{"ChannelType", "EMAIL"}, {"Address", "john.example.com"}}, wantErr: "Address: not a valid email address"},
		{name: "email without dot in domain", input: []kv{{"ChannelType", "EMAIL"}, {"Address", "john@localhost"}}, wantErr: "Address: not a valid email address"},
		{name: "email with space", input: []kv{{"ChannelType", "EMAIL"}, {"Address", "jo hn@example.com"}}, wantErr: "Address: not a valid email address"},
		{name: "email with control character", input: []kv{{"ChannelType", "EMAIL"}, {"Address", "jo\x7fhn@example.com"}}, wantErr: "Address: not a valid email address"},
		{name: "phone letters", input: []kv{{"ChannelType", "SMS"}, {"Address", "206-CALL-NOW"}}, wantErr: "Address: not a phone number: only digits"},
		{name: "phone plus inside", input: []kv{{"ChannelType", "SMS"}, {"Address", "206+5550182"}}, wantErr: "Address: not a phone number"},
		{name: "phone too short", input: []kv{{"ChannelType", "SMS"}, {"Address", "12"}}, wantErr: "Address: not a phone number: it must have 3 to 15 digits"},
		{name: "phone too long", input: []kv{{"ChannelType", "SMS"}, {"Address", "1234567890123456"}}, wantErr: "3 to 15 digits"},
		{name: "token with space", input: []kv{{"ChannelType", "GCM"}, {"Address", "ab cd"}}, wantErr: "Address: contains white space"},
		{name: "address messages hide the address", input: []kv{{"ChannelType", "EMAIL"}, {"Address", "secret-person"}}, wantErr: "Address: not a valid email address"},

		// Plain text attributes.
		{name: "plain strings", input: sms(
			kv{"RequestId", "req-1"}, kv{"Location.City", "Washington, D.C."}, kv{"Location.PostalCode", "98101"},
			kv{"Location.Region", "WA"}, kv{"Demographic.AppVersion", "1.2.3"}, kv{"Demographic.Make", "Apple"},
			kv{"Demographic.Model", "iPhone"}, kv{"Demographic.ModelVersion", "15"}, kv{"Demographic.Platform", "iOS"},
			kv{"Demographic.PlatformVersion", "17.1"}, kv{"User.UserId", "user-1"}),
			want: smsBase + `,"RequestId":"req-1","Location":{"City":"Washington, D.C.","PostalCode":"98101","Region":"WA"},"Demographic":{"AppVersion":"1.2.3","Make":"Apple","Model":"iPhone","ModelVersion":"15","Platform":"iOS","PlatformVersion":"17.1"},"User":{"UserId":"user-1"}`},
		{name: "values trimmed", input: sms(kv{"Demographic.Make", "  LG \t"}), want: smsBase + `,"Demographic":{"Make":"LG"}`},
		{name: "value not UTF-8", input: sms(kv{"Demographic.Make", "L\xffG"}), wantErr: "Demographic.Make: value is not valid UTF-8"},
		{name: "fixed attribute twice", input: sms(kv{"Demographic.Make", "LG"}, kv{"Demographic.Make", "Apple"}), wantErr: "Demographic.Make: given more than once"},

		// EndpointStatus and OptOut.
		{name: "status ACTIVE", input: sms(kv{"EndpointStatus", "ACTIVE"}), want: smsBase + `,"EndpointStatus":"ACTIVE"`},
		{name: "status inactive", input: sms(kv{"EndpointStatus", "inactive"}), want: smsBase + `,"EndpointStatus":"INACTIVE"`},
		{name: "status unknown", input: sms(kv{"EndpointStatus", "DELETED"}), wantErr: `EndpointStatus: not one of ACTIVE, INACTIVE`},
		{name: "opt out ALL", input: sms(kv{"OptOut", "ALL"}), want: smsBase + `,"OptOut":"ALL"`},
		{name: "opt out none", input: sms(kv{"OptOut", "none"}), want: smsBase + `,"OptOut":"NONE"`},
		{name: "opt out unknown", input: sms(kv{"OptOut", "SOME"}), wantErr: `OptOut: not one of ALL, NONE`},

		// EffectiveDate: ISO 8601 basic and extended, normalised to UTC milliseconds.
		{name: "date basic", input: sms(kv{"EffectiveDate", "20171011T150548Z"}), want: smsBase + `,"EffectiveDate":"2017-10-11T15:05:48.000Z"`},
		{name: "date basic offset", input: sms(kv{"EffectiveDate", "20171011T150548+0200"}), want: smsBase + `,"EffectiveDate":"2017-10-11T13:05:48.000Z"`},
		{name: "date basic fraction", input: sms(kv{"EffectiveDate", "20171011T150548.5Z"}), want: smsBase + `,"EffectiveDate":"2017-10-11T15:05:48.500Z"`},
		{name: "date basic minutes", input: sms(kv{"EffectiveDate", "20171011T1505Z"}), want: smsBase + `,"EffectiveDate":"2017-10-11T15:05:00.000Z"`},
		{name: "date extended", input: sms(kv{"EffectiveDate", "2017-10-11T15:05:48Z"}), want: smsBase + `,"EffectiveDate":"2017-10-11T15:05:48.000Z"`},
		{name: "date extended offset fraction", input: sms(kv{"EffectiveDate", "2017-10-11T15:05:48.123+02:00"}), want: smsBase + `,"EffectiveDate":"2017-10-11T13:05:48.123Z"`},
		{name: "date extended space", input: sms(kv{"EffectiveDate", "2017-10-11 15:05:48Z"}), want: smsBase + `,"EffectiveDate":"2017-10-11T15:05:48.000Z"`},
		{name: "date only", input: sms(kv{"EffectiveDate", "2017-10-11"}), want: smsBase + `,"EffectiveDate":"2017-10-11T00:00:00.000Z"`},
		{name: "date basic only", input: sms(kv{"EffectiveDate", "20171011"}), want: smsBase + `,"EffectiveDate":"2017-10-11T00:00:00.000Z"`},
		{name: "date not ISO", input: sms(kv{"EffectiveDate", "10/11/2017"}), wantErr: "EffectiveDate: not an ISO 8601 date-time"},
		{name: "date bad month", input: sms(kv{"EffectiveDate", "2017-13-11T15:05:48Z"}), wantErr: "EffectiveDate: not an ISO 8601"},
		{name: "date year out of range", input: sms(kv{"EffectiveDate", "0000-01-01T00:00:00+01:00"}), wantErr: "EffectiveDate: not an ISO 8601"},

		// Location.
		{name: "country alpha-3", input: sms(kv{"Location.Country", "USA"}), want: smsBase + `,"Location":{"Country":"USA"}`},
		{name: "country lower case", input: sms(kv{"Location.Country", "chn"}), want: smsBase + `,"Location":{"Country":"CHN"}`},
		{name: "country alpha-2 stored alpha-3", input: sms(kv{"Location.Country", "US"}), want: smsBase + `,"Location":{"Country":"USA"}`},
		{name: "country unknown", input: sms(kv{"Location.Country", "XYZ"}), wantErr: `Location.Country: not an ISO 3166-1 country code`},
		{name: "country close to a code", input: sms(kv{"Location.Country", "UK"}), wantErr: `Location.Country: not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA); did you mean GB?`},
		{name: "country alpha-2 form", limits: Limits{Country: CountryAlpha2}, input: sms(kv{"Location.Country", "usa"}), want: smsBase + `,"Location":{"Country":"US"}`},
		{name: "country alpha-2 form keeps alpha-2", limits: Limits{Country: CountryAlpha2}, input: sms(kv{"Location.Country", "de"}), want: smsBase + `,"Location":{"Country":"DE"}`},
		{name: "latitude rounded", input: sms(kv{"Location.Latitude", "47.6062"}, kv{"Location.Longitude", "-122.3321"}), want: smsBase + `,"Location":{"Latitude":47.6,"Longitude":-122.3}`},
		{name: "latitude rounds half away", input: sms(kv{"Location.Latitude", "0.25"}, kv{"Location.Longitude", "-0.25"}), want: smsBase + `,"Location":{"Latitude":0.3,"Longitude":-0.3}`},
		{name: "latitude no negative zero", input: sms(kv{"Location.Latitude", "-0.04"}), want: smsBase + `,"Location":{"Latitude":0}`},
		{name: "latitude bounds", input: sms(kv{"Location.Latitude", "-90"}, kv{"Location.Longitude", "180"}), want: smsBase + `,"Location":{"Latitude":-90,"Longitude":180}`},
		{name: "latitude exponent", input: sms(kv{"Location.Latitude", "4.5e1"}), want: smsBase + `,"Location":{"Latitude":45}`},
		{name: "latitude out of range", input: sms(kv{"Location.Latitude", "90.01"}), wantErr: "Location.Latitude: out of range -90 to 90"},
		{name: "longitude out of range", input: sms(kv{"Location.Longitude", "-180.5"}), wantErr: "Location.Longitude: out of range -180 to 180"},
		{name: "latitude not a number", input: sms(kv{"Location.Latitude", "north"}), wantErr: `Location.Latitude: not a number`},
		{name: "latitude NaN", input: sms(kv{"Location.Latitude", "NaN"}), wantErr: ": not a number"},
		{name: "latitude hex float", input: sms(kv{"Location.Latitude", "0x1p4"}), wantErr: ": not a number"},
		{name: "latitude twice", input: sms(kv{"Location.Latitude", "1"}, kv{"Location.Latitude", "2"}), wantErr: "Location.Latitude: given more than once"},

		// Demographic.
		{name: "timezone", input: sms(kv{"Demographic.Timezone", "America/Los_Angeles"}), want: smsBase + `,"Demographic":{"Timezone":"America/Los_Angeles"}`},
		{name: "timezone UTC", input: sms(kv{"Demographic.Timezone", "UTC"}), want: smsBase + `,"Demographic":{"Timezone":"UTC"}`},
		{name: "timezone unknown", input: sms(kv{"Demographic.Timezone", "Mars/Olympus_Mons"}), wantErr: `Demographic.Timezone: not a tz database time zone`},
		{name: "timezone Local", input: sms(kv{"Demographic.Timezone", "Local"}), wantErr: ": not a tz database time zone"},
		{name: "timezone path", input: sms(kv{"Demographic.Timezone", "../../etc/passwd"}), wantErr: ": not a tz database time zone"},
		{name: "locale", input: sms(kv{"Demographic.Locale", "en_US"}), want: smsBase + `,"Demographic":{"Locale":"en_US"}`},
		{name: "locale dash and case", input: sms(kv{"Demographic.Locale", "ZH-cn"}), want: smsBase + `,"Demographic":{"Locale":"zh_CN"}`},
		{name: "locale language only", input: sms(kv{"Demographic.Locale", "fr"}), want: smsBase + `,"Demographic":{"Locale":"fr"}`},
		{name: "locale UN M.49 region", input: sms(kv{"Demographic.Locale", "es_419"}), want: smsBase + `,"Demographic":{"Locale":"es_419"}`},
		{name: "locale bad", input: sms(kv{"Demographic.Locale", "english"}), wantErr: `Demographic.Locale: not an ISO 15897 locale`},
		{name: "locale bad territory", input: sms(kv{"Demographic.Locale", "en_USA"}), wantErr: ": not an ISO 15897 locale"},

		// Custom attributes: lists, numbers and limits.
		{name: "attributes list", input: sms(kv{"Attributes.Interests", "music"}, kv{"Attributes.Interests", "travel, food"}),
			want: smsBase + `,"Attributes":{"Interests":["music","travel, food"]}`},
		{name: "attributes sorted", input: sms(kv{"Attributes.b", "2"}, kv{"Attributes.a", "1"}), want: smsBase + `,"Attributes":{"a":["1"],"b":["2"]}`},
		{name: "attributes empty value skipped", input: sms(kv{"Attributes.x", ""}, kv{"Attributes.x", "v"}), want: smsBase + `,"Attributes":{"x":["v"]}`},
		{name: "user attributes list", input: sms(kv{"User.UserId", "u1"}, kv{"User.UserAttributes.FirstName", "Zoë"}, kv{"User.UserAttributes.FirstName", "Z"}),
			want: smsBase + `,"User":{"UserId":"u1","UserAttributes":{"FirstName":["Zoë","Z"]}}`},
		{name: "metrics", input: sms(kv{"Metrics.sessions", "12"}, kv{"Metrics.cart", "-3.5e2"}), want: smsBase + `,"Metrics":{"cart":-350,"sessions":12}`},
		{name: "metric not a number", input: sms(kv{"Metrics.sessions", "twelve"}), wantErr: `Metrics.sessions: not a finite number`},
		{name: "metric infinite", input: sms(kv{"Metrics.sessions", "1e400"}), wantErr: `Metrics.sessions: not a finite number`},
		{name: "metric Inf", input: sms(kv{"Metrics.sessions", "+Inf"}), wantErr: ": not a finite number"},
		{name: "metric NaN", input: sms(kv{"Metrics.sessions", "NaN"}), wantErr: ": not a finite number"},
		{name: "metric underscore", input: sms(kv{"Metrics.sessions", "1_000"}), wantErr: ": not a finite number"},
		// Characters SQS refuses in a message body, and control characters.
		{name: "U+FFFF in a value", input: sms(kv{"Location.City", "Lis\uffffbon"}), wantErr: "Location.City: value holds U+FFFF, a noncharacter that SQS cannot carry"},
		{name: "U+FFFE in a list value", input: sms(kv{"Attributes.a", "x"}, kv{"Attributes.a", "\ufffe"}), wantErr: "Attributes.a: value holds U+FFFE"},
		{name: "U+FFFF in a user attribute", input: sms(kv{"User.UserId", "u"}, kv{"User.UserAttributes.a", "\uffff"}), wantErr: "User.UserAttributes.a: value holds U+FFFF"},
		{name: "U+FFFF in a name", input: sms(kv{"Attributes.a\uffff", "x"}), wantErr: "name holds U+FFFF"},
		{name: "U+FFFD and U+10FFFF are carried", input: sms(kv{"Location.City", "\ufffd\U0010ffff\ufdd0"}), want: smsBase + ",\"Location\":{\"City\":\"\ufffd\U0010ffff\ufdd0\"}"},
		{name: "NUL in a value", input: sms(kv{"Demographic.Model", "a\x00b"}), wantErr: "Demographic.Model: value holds the control character U+0000"},
		{name: "escape in a value", input: sms(kv{"Address", "+1 206\x1b555 0182"}), wantErr: "Address: value holds the control character U+001B"},
		{name: "tab, LF and CR are allowed", input: sms(kv{"Location.City", "a\tb\r\nc"}), want: smsBase + `,"Location":{"City":"a\tb\r\nc"}`},
		{name: "DEL is allowed", input: sms(kv{"Location.City", "a\x7fb"}), want: smsBase + ",\"Location\":{\"City\":\"a\x7fb\"}"},
		{name: "control characters at the ends are trimmed", input: sms(kv{"Location.City", "\x0bab\x0c"}), want: smsBase + `,"Location":{"City":"ab"}`},
		{name: "metric over DynamoDB's range", input: sms(kv{"Metrics.m", "1e200"}), wantErr: "Metrics.m: number out of DynamoDB's range"},
		{name: "metric 1e126", input: sms(kv{"Metrics.m", "-1e126"}), wantErr: "Metrics.m: number out of DynamoDB's range"},
		{name: "metric DynamoDB's largest, read as the double 1e126", input: sms(kv{"Metrics.m", "-9.9999999999999999999999999999999999999E+125"}), wantErr: "Metrics.m: number out of DynamoDB's range"},
		{name: "metric largest", input: sms(kv{"Metrics.m", "-9.99999999999999e125"}), want: smsBase + `,"Metrics":{"m":-9.99999999999999e+125}`},
		{name: "metric below DynamoDB's range", input: sms(kv{"Metrics.m", "1e-131"}), wantErr: "Metrics.m: number out of DynamoDB's range"},
		{name: "metric smallest", input: sms(kv{"Metrics.m", "1E-130"}), want: smsBase + `,"Metrics":{"m":1e-130}`},
		{name: "metric zero", input: sms(kv{"Metrics.m", "-0.0e-400"}), want: smsBase + `,"Metrics":{"m":0}`},
		{name: "metric of 40 digits, read as a double", input: sms(kv{"Metrics.m", "1.234567890123456789012345678901234567890"}), want: smsBase + `,"Metrics":{"m":1.2345678901234567}`},
		{name: "metric twice", input: sms(kv{"Metrics.s", "1"}, kv{"Metrics.s", "2"}), wantErr: "Metrics.s: given more than once"},
		{name: "lists interleaved", input: sms(kv{"Attributes.a", "1"}, kv{"Attributes.b", "2"}, kv{"Attributes.a", "3"}, kv{"Attributes.b", "4"}),
			want: smsBase + `,"Attributes":{"a":["1","3"],"b":["2","4"]}`},
		{name: "same name in two families", input: sms(kv{"User.UserId", "u1"}, kv{"Attributes.n", "a"}, kv{"User.UserAttributes.n", "b"}, kv{"Metrics.n", "1"}, kv{"Attributes.n", "c"}),
			want: smsBase + `,"Attributes":{"n":["a","c"]},"Metrics":{"n":1},"User":{"UserId":"u1","UserAttributes":{"n":["b"]}}`},
		{name: "many names, one given again", input: sms(append(many("Attributes.", 18, "v"), kv{"Attributes.naa", "w"})...), want: "*"},
		{name: "many names, metric given again", input: sms(append(many("Metrics.", 18, "1"), kv{"Metrics.nab", "2"})...), wantErr: "Metrics.nab: given more than once"},
		{name: "many names, 51 values", input: sms(append(many("Attributes.", 18, "v"), repeat(kv{"Attributes.nac", "w"}, 50)...)...), wantErr: "Attributes.nac: more than 50 values"},
		{name: "name of 50", input: sms(kv{"Attributes." + long(50), "v"}), want: smsBase + `,"Attributes":{"` + long(50) + `":["v"]}`},
		{name: "name over 50", input: sms(kv{"Attributes." + long(51), "v"}), wantErr: "name has 51 characters, the limit is 50"},
		{name: "name over 50 in metrics", input: sms(kv{"Metrics." + long(51), "1"}), wantErr: "name has 51 characters"},
		{name: "name with spaces at its ends", input: sms(kv{"Attributes. x", "v"}), wantErr: "name has white space at its ends"},
		{name: "value of 100", input: sms(kv{"Attributes.x", long(100)}), want: smsBase + `,"Attributes":{"x":["` + long(100) + `"]}`},
		{name: "value over 100", input: sms(kv{"Attributes.x", long(101)}), wantErr: "Attributes.x: value has 101 characters, the limit is 100"},
		{name: "value length in characters", input: sms(kv{"User.UserId", "u1"}, kv{"User.UserAttributes.x", strings.Repeat("é", 100)}), want: smsBase + `,"User":{"UserId":"u1","UserAttributes":{"x":["` + strings.Repeat("é", 100) + `"]}}`},
		{name: "user attributes need a user", input: sms(kv{"User.UserAttributes.x", "v"}), wantErr: "User.UserId: missing"},
		{name: "value over 100 in user attributes", input: sms(kv{"User.UserAttributes.x", long(101)}), wantErr: "User.UserAttributes.x: value has 101 characters"},
		{name: "20 attributes", input: sms(many("Attributes.", 20, "v")...), want: "*"},
		{name: "21 attributes", input: sms(many("Attributes.", 21, "v")...), wantErr: "more than 20 custom attributes in Attributes"},
		{name: "21 metrics", input: sms(many("Metrics.", 21, "1")...), wantErr: "more than 20 custom attributes in Metrics"},
		{name: "21 user attributes", input: sms(append(many("User.UserAttributes.", 21, "v"), kv{"User.UserId", "u1"})...), wantErr: "more than 20 custom attributes in User.UserAttributes"},
		{name: "20 in each family", input: sms(concat(many("Attributes.", 20, "v"), many("Metrics.", 20, "1"), many("User.UserAttributes.", 20, "v"), []kv{{"User.UserId", "u1"}})...), want: "*"},
		{name: "50 values", input: sms(repeat(kv{"Attributes.x", "v"}, 50)...), want: "*"},
		{name: "51 values", input: sms(repeat(kv{"Attributes.x", "v"}, 51)...), wantErr: "Attributes.x: more than 50 values"},
		{name: "endpoint of exactly 15 KB", input: exactly(15360), want: "*"},
		{name: "endpoint one byte over 15 KB", input: exactly(15361), wantErr: "endpoint is 15361 bytes, the limit is 15360"},

		// Limits are configurable; a zero field keeps the default.
		{name: "custom per-endpoint limit", limits: Limits{AttributesPerEndpoint: 2}, input: sms(many("Attributes.", 3, "v")...), wantErr: "more than 2 custom attributes"},
		{name: "custom limit keeps other defaults", limits: Limits{AttributesPerEndpoint: 2}, input: sms(kv{"Attributes.x", long(100)}), want: smsBase + `,"Attributes":{"x":["` + long(100) + `"]}`},
		// AttributeBytes bounds what stored items gather from many rows.
		{name: "50 values of 100 ASCII characters fit", input: sms(repeat(kv{"Attributes.a", long(100)}, 50)...), want: "*"},
		{name: "custom list over the attribute bytes", input: sms(repeat(kv{"Attributes.a", strings.Repeat("\u00e9", 100)}, 30)...), wantErr: "Attributes.a: name and values take more than 5888 bytes"},
		{name: "standard value over the attribute bytes", input: sms(kv{"Location.City", strings.Repeat("\u00e9", 3000)}), wantErr: "Location.City: value is 6000 bytes, the most one attribute may take is 5888"},
		{name: "more names leave fewer bytes to each", limits: Limits{CustomAttributeNames: 1000}, input: sms(kv{"User.UserId", "u"}, kv{"User.UserAttributes.a", long(100)}, kv{"User.UserAttributes.a", long(100)}, kv{"User.UserAttributes.a", long(100)}, kv{"User.UserAttributes.a", long(100)}),
			wantErr: "User.UserAttributes.a: name and values take more than 368 bytes"},
		{name: "attribute bytes from limits", limits: Limits{AttributeBytes: 18}, input: sms(kv{"Attributes.abcdefghijklmnopq", "c"}, kv{"Attributes.abcdefghijklmnopq", "d"}), wantErr: "Attributes.abcdefghijklmnopq: name and values take more than 18 bytes"},
		{name: "custom name length", limits: Limits{NameLength: 3}, input: sms(kv{"Metrics.abcd", "1"}), wantErr: "name has 4 characters, the limit is 3"},
		{name: "custom value length", limits: Limits{ValueLength: 3}, input: sms(kv{"Attributes.a", "abcd"}), wantErr: "value has 4 characters, the limit is 3"},
		{name: "custom values per attribute", limits: Limits{ValuesPerAttribute: 1}, input: sms(kv{"Attributes.a", "1"}, kv{"Attributes.a", "2"}), wantErr: "more than 1 values"},
		{name: "custom endpoint bytes", limits: Limits{EndpointBytes: 100}, input: sms(kv{"Attributes.a", long(80)}), wantErr: "bytes, the limit is 100"},

		// The first problem wins.
		{name: "first problem reported", input: sms(kv{"OptOut", "x"}, kv{"EndpointStatus", "y"}), wantErr: "OptOut:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ferr := build(t, tt.limits, tt.input)
			if tt.wantErr != "" {
				if ferr == nil {
					got, _ := e.MarshalCanonical()
					t.Fatalf("got %.300s, want error containing %q", got, tt.wantErr)
				}
				if !strings.Contains(ferr.Error(), tt.wantErr) {
					t.Fatalf("error %q, want it to contain %q", ferr.Error(), tt.wantErr)
				}
				return
			}
			if ferr != nil {
				t.Fatalf("unexpected error: %v", ferr)
			}
			got, err := e.MarshalCanonical()
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "*" {
				return
			}
			want := "{" + tt.want + "}"
			if !strings.Contains(tt.want, `"Id":`) {
				// The Id of a new endpoint is derived and comes first.
				wantId := DerivedId(e.ChannelType, e.Address)
				want = `{"Id":"` + wantId + `",` + tt.want + "}"
				if e.Address == "+12065550182" && e.ChannelType == "SMS" && wantId != derived {
					t.Fatal("derived Id changed")
				}
			}
			if string(got) != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// exactly returns the values of an update whose Size is n (15,232 < n ≤ 15,360):
// an Id of 128 bytes, three full lists of 50 values of 100 characters, and the rest.
func exactly(n int) []kv {
	x := strings.Repeat("x", 100)
	rest := n - 128 - 3*(1+50*100) - 1 - 200
	return concat([]kv{{"Id", strings.Repeat("i", 128)}},
		repeat(kv{"Attributes.a", x}, 50), repeat(kv{"Attributes.b", x}, 50), repeat(kv{"Attributes.c", x}, 50),
		[]kv{{"Attributes.d", x}, {"Attributes.d", x}, {"Attributes.d", strings.Repeat("x", rest)}})
}

func concat(lists ...[]kv) []kv {
	var out []kv
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func repeat(p kv, n int) []kv {
	out := make([]kv, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func TestBuilderReset(t *testing.T) {
	b := NewBuilder(DefaultLimits())
	b.Set(Attr{Kind: KindOptOut}, "bad")
	if !b.Failed() {
		t.Fatal("Failed() = false after a bad value")
	}
	b.Reset()
	b.Set(Attr{Kind: KindId}, "ep-1")
	e, ferr := b.Finish()
	if ferr != nil || e.Id != "ep-1" || e.OptOut != "" {
		t.Fatalf("after Reset got %+v, %v", e, ferr)
	}
	b.Reset()
	if e.Id != "ep-1" {
		t.Fatal("Reset changed the endpoint Finish returned")
	}
}

func TestDerivedId(t *testing.T) {
	tests := []struct {
		name       string
		a, b       []kv
		wantSameId bool
	}{
		{"same row", sms(), sms(), true},
		{"phone formatting", sms(), []kv{{"ChannelType", "SMS"}, {"Address", "+12065550182"}}, true},
		{"email case", []kv{{"ChannelType", "EMAIL"}, {"Address", "A@Example.com"}}, []kv{{"ChannelType", "email"}, {"Address", " a@example.COM "}}, true},
		{"other attributes do not count", sms(kv{"Demographic.Make", "LG"}), sms(kv{"OptOut", "ALL"}), true},
		{"channel counts", []kv{{"ChannelType", "SMS"}, {"Address", "2065550182"}}, []kv{{"ChannelType", "VOICE"}, {"Address", "2065550182"}}, false},
		{"address counts", []kv{{"ChannelType", "GCM"}, {"Address", "tokA"}}, []kv{{"ChannelType", "GCM"}, {"Address", "tokB"}}, false},
		{"token case counts", []kv{{"ChannelType", "GCM"}, {"Address", "tok"}}, []kv{{"ChannelType", "GCM"}, {"Address", "TOK"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, errA := build(t, Limits{}, tt.a)
			b, errB := build(t, Limits{}, tt.b)
			if errA != nil || errB != nil {
				t.Fatal(errA, errB)
			}
			if (a.Id == b.Id) != tt.wantSameId {
				t.Fatalf("Ids %s and %s: same = %v, want %v", a.Id, b.Id, a.Id == b.Id, tt.wantSameId)
			}
			if len(a.Id) != 32 {
				t.Fatalf("Id %q is not 32 hex digits", a.Id)
			}
		})
	}
	// The Id is part of the storage format: it must never change.
	if got, want := DerivedId("SMS", "2065550182"), DerivedId("SMS", "2065550182"); got != want || got == "" {
		t.Fatal("DerivedId is not deterministic")
	}
}

// TestBuilderKeepsEndpoints checks that the memory a Builder shares between
// endpoints (their parts, derived strings and value lists) never changes an
// endpoint Finish returned, whatever the rows after it, and that a row that
// failed leaves nothing in the next.
func TestBuilderKeepsEndpoints(t *testing.T) {
	b := NewBuilder(DefaultLimits())
	var kept []*Endpoint
	var want []string
	for i := range 500 {
		b.Reset()
		n := strconv.Itoa(i)
		b.Set(Attr{Kind: KindChannelType}, "EMAIL")
		b.Set(Attr{Kind: KindAddress}, "User"+n+"@Example.com")
		b.Set(Attr{Kind: KindEffectiveDate}, "20171011T15"+fmt.Sprintf("%04d", i%3600)[:2]+"00Z")
		b.Set(Attr{Kind: KindAttribute, Custom: "a"}, "a"+n)
		b.Set(Attr{Kind: KindAttribute, Custom: "b"}, "b"+n)
		b.Set(Attr{Kind: KindAttribute, Custom: "a"}, "c"+n)
		if i%7 == 0 {
			b.Set(Attr{Kind: KindMake}, "LG")
			b.Set(Attr{Kind: KindOptOut}, "bad") // the row fails
		}
		e, ferr := b.Finish()
		if (ferr != nil) != (i%7 == 0) {
			t.Fatalf("row %d: %v", i, ferr)
		}
		if ferr != nil {
			continue
		}
		if e.Demographic != nil {
			t.Fatalf("row %d has the Demographic of the failed row before it", i)
		}
		c, _ := e.MarshalCanonical()
		kept, want = append(kept, e), append(want, string(c))
	}
	for _, e := range kept { // must not reach another endpoint's list or family
		e.Attributes[0].Value = append(e.Attributes[0].Value, "appended")
		e.Attributes.Put("zz", []string{"added"})
	}
	for i, e := range kept {
		e.Attributes = e.Attributes[:len(e.Attributes)-1]
		e.Attributes[0].Value = e.Attributes[0].Value[:len(e.Attributes[0].Value)-1]
		if c, _ := e.MarshalCanonical(); string(c) != want[i] {
			t.Fatalf("endpoint %d changed:\n%s\nwas\n%s", i, c, want[i])
		}
	}
}
