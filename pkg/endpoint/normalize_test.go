package endpoint

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segport/segport/internal/arena"
)

func TestNormalizeCountry(t *testing.T) {
	const notCode = "not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA)"
	tests := []struct {
		name    string
		input   string
		form    CountryForm
		want    string
		wantErr string
	}{
		{name: "alpha-3", input: "USA", want: "USA"},
		{name: "lower case", input: "egy", want: "EGY"},
		{name: "Åland", input: "ALA", want: "ALA"},
		{name: "alpha-2 stored alpha-3", input: "US", want: "USA"},
		{name: "alpha-2 lower case", input: "cn", want: "CHN"},
		{name: "alpha-2 form keeps alpha-2", input: "us", form: CountryAlpha2, want: "US"},
		{name: "alpha-2 form converts alpha-3", input: "Can", form: CountryAlpha2, want: "CA"},
		{name: "alpha-2 form Åland", input: "ALA", form: CountryAlpha2, want: "AX"},
		{name: "unknown", input: "ZZZ", wantErr: notCode},
		{name: "swapped letters", input: "UAS", wantErr: notCode + "; did you mean AUS or USA?"},
		{name: "swapped, one code", input: "DUE", wantErr: notCode + "; did you mean DEU?"},
		{name: "one changed letter", input: "GEE", wantErr: notCode + "; did you mean GEO?"},
		{name: "too many close codes", input: "ZZ", wantErr: notCode},
		{name: "UK", input: "UK", wantErr: notCode + "; did you mean GB?"},
		{name: "uk lower case, alpha-2 form", input: "uk", form: CountryAlpha2, wantErr: notCode + "; did you mean GB?"},
		{name: "ENG", input: "ENG", wantErr: notCode + "; did you mean GBR?"},
		{name: "name", input: "Canada", wantErr: notCode},
		{name: "one letter", input: "U", wantErr: notCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := NormalizeCountry(tt.input, tt.form)
			if got != tt.want || msg != tt.wantErr {
				t.Fatalf("NormalizeCountry(%q, %v) = %q, %q; want %q, %q", tt.input, tt.form, got, msg, tt.want, tt.wantErr)
			}
		})
	}
	if n := len(alpha3); n != 249 {
		t.Errorf("%d alpha-3 codes, want the 249 officially assigned", n)
	}
	if c, ok := Alpha3("gb"); !ok || c != "GBR" {
		t.Errorf("Alpha3(gb) = %q, %v", c, ok)
	}
	if _, ok := Alpha3("XX"); ok {
		t.Error("Alpha3(XX) found a country")
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    string
		wantErr bool
	}{
		{name: "basic", input: "20171011T150548Z", want: "2017-10-11T15:05:48.000Z"},
		{name: "basic offset", input: "20171011T150548-0700", want: "2017-10-11T22:05:48.000Z"},
		{name: "basic fraction", input: "20171011T150548.123Z", want: "2017-10-11T15:05:48.123Z"},
		{name: "basic no seconds", input: "20171011T1505Z", want: "2017-10-11T15:05:00.000Z"},
		{name: "extended", input: "2017-10-11T15:05:48Z", want: "2017-10-11T15:05:48.000Z"},
		{name: "extended offset", input: "2017-10-11T15:05:48+05:30", want: "2017-10-11T09:35:48.000Z"},
		{name: "extended nanoseconds truncated to milliseconds", input: "2017-10-11T15:05:48.123456789Z", want: "2017-10-11T15:05:48.123Z"},
		{name: "extended no seconds", input: "2017-10-11T15:05Z", want: "2017-10-11T15:05:00.000Z"},
		{name: "calendar date", input: "2017-10-11", want: "2017-10-11T00:00:00.000Z"},
		{name: "basic calendar date", input: "20171011", want: "2017-10-11T00:00:00.000Z"},
		{name: "canonical form parses to itself", input: "2017-10-11T15:05:48.000Z", want: "2017-10-11T15:05:48.000Z"},
		{name: "no zone", input: "2017-10-11T15:05:48", wantErr: true},
		{name: "US order", input: "10/11/2017", wantErr: true},
		{name: "hour 24", input: "2017-10-11T24:00:00Z", wantErr: true},
		{name: "too short", input: "2017", wantErr: true},
		{name: "year 10000 in UTC", input: "9999-12-31T23:00:00-02:00", wantErr: true},
		{name: "year -1 in UTC", input: "0000-01-01T00:00:00+01:00", wantErr: true},
		{name: "Unix time", input: "1507734348", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseDate(tt.input)
			if ok == tt.wantErr {
				t.Fatalf("ParseDate(%q) ok = %v, want %v", tt.input, ok, !tt.wantErr)
			}
			if ok && FormatDate(got) != tt.want {
				t.Fatalf("ParseDate(%q) = %s, want %s", tt.input, FormatDate(got), tt.want)
			}
			if ok && got.Location() != time.UTC {
				t.Fatalf("ParseDate(%q) is not in UTC", tt.input)
			}
		})
	}
}

func TestIsDecimal(t *testing.T) {
	tests := []struct {
		input string
		want  bool
	}{
		{"0", true}, {"-12", true}, {"+1.5", true}, {".5", true}, {"5.", true}, {"1e3", true}, {"-2.5E-3", true},
		{"", false}, {"-", false}, {".", false}, {"e3", false}, {"1e", false}, {"1e+", false}, {"0x10", false},
		{"1_000", false}, {"Inf", false}, {"NaN", false}, {"1.2.3", false}, {" 1", false}, {"1,5", false},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			if got := isDecimal(tt.input); got != tt.want {
				t.Fatalf("isDecimal(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
}

func TestEndpointSizeIgnoresInputForm(t *testing.T) {
	// Size depends on the normalised endpoint: the same endpoint given in a longer
	// form (basic date, spaced phone) has the same size as its canonical form.
	a, errA := build(t, Limits{}, sms(kv{"EffectiveDate", "20171011T150548Z"}, kv{"Metrics.m", "1e0"}))
	b, errB := build(t, Limits{}, []kv{{"ChannelType", "SMS"}, {"Address", "+12065550182"}, {"EffectiveDate", "2017-10-11T15:05:48.000Z"}, {"Metrics.m", "1"}})
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.Size() != b.Size() {
		t.Fatalf("sizes %d and %d differ", a.Size(), b.Size())
	}
}

func TestCloneIsDeep(t *testing.T) {
	e, ferr := build(t, Limits{}, sms(kv{"Location.Latitude", "1"}, kv{"Attributes.a", "x"}, kv{"Metrics.m", "1"},
		kv{"User.UserId", "u"}, kv{"User.UserAttributes.b", "y"}, kv{"Demographic.Make", "LG"}))
	if ferr != nil {
		t.Fatal(ferr)
	}
	before, _ := e.MarshalCanonical()
	c := e.Clone()
	*c.Location.Latitude = 2
	c.Attributes[0].Value[0] = "changed"
	c.Metrics[0].Value = 2
	c.User.UserAttributes[0].Value[0] = "changed"
	c.Demographic.Make = "Apple"
	after, _ := e.MarshalCanonical()
	if string(before) != string(after) {
		t.Fatalf("changing the clone changed the original:\n%s\n%s", before, after)
	}
}

func TestMarshalCanonicalOmitsEmptyObjects(t *testing.T) {
	e := &Endpoint{Id: "x", Location: &Location{}, Demographic: &Demographic{}, User: &User{}, Attributes: Lists{}}
	got, err := e.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"Id":"x"}` {
		t.Fatalf("got %s", got)
	}
	e = &Endpoint{Id: "<&>", Attributes: CustomOf(map[string][]string{"b": {"2"}, "a": {"1"}})}
	got, _ = e.MarshalCanonical()
	if string(got) != `{"Id":"<&>","Attributes":{"a":["1"],"b":["2"]}}` {
		t.Fatalf("got %s", got)
	}
}

// FuzzParseDate checks that the fast paths of ParseDate and of formatting agree
// with the time package's layouts.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{
		"20171011T150548Z", "20171011T150548.123+0200", "2017-10-11T15:05:48Z", "2017-10-11T15:05:48.5-07:30",
		"2016-02-29T00:00:00Z", "2017-02-29T00:00:00Z", "0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59.999999999Z",
		"2017-10-11T24:00:00Z", "2017-10-11T15:05:48+24:00", "20171011T150548,5Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		fast, okFast := parseDateFast(v)
		if !okFast {
			return
		}
		var slow time.Time
		okSlow := false
		for _, layout := range dateLayouts {
			if p, err := time.Parse(layout, v); err == nil {
				slow, okSlow = p.UTC(), true
				break
			}
		}
		if !okSlow || !fast.Equal(slow) {
			t.Fatalf("%q: fast %v, layouts %v (ok %v)", v, fast, slow, okSlow)
		}
		if got, want := string(appendDate(nil, fast)), FormatDate(fast); got != want {
			t.Fatalf("appendDate gives %s, Format %s", got, want)
		}
	})
}

// FuzzNormalizeDate checks the Builder's path for dates against ParseDate and
// FormatDate.
func FuzzNormalizeDate(f *testing.F) {
	for _, s := range []string{"20171011T150548Z", "2017-10-11T15:05:48.123456+02:00", "2017-10-11", "2017-10-11T15:05:48.000Z", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := normalizeDate(v, nil)
		d, okWant := ParseDate(v)
		if ok != okWant || (ok && got != FormatDate(d)) {
			t.Fatalf("%q: normalizeDate %q %v, ParseDate %v %v", v, got, ok, d, okWant)
		}
	})
}

// FuzzParseFinite checks the short-decimal path against strconv.
func FuzzParseFinite(f *testing.F) {
	for _, s := range []string{"-61.2086", "440", ".5", "5.", "-0", "123456789012345", "0.000000000000001", "+7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parseShortDecimal(v)
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(v, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: %v, strconv %v %v", v, got, want, err)
		}
	})
}

// TestCountryTable checks the table lookups of NormalizeCountry against the code
// sets for every string of two and three ASCII letters, in upper, lower and
// mixed case, in both forms.
func TestCountryTable(t *testing.T) {
	check := func(up string, known bool, want3 string) {
		t.Helper()
		for _, v := range []string{up, strings.ToLower(up), up[:1] + strings.ToLower(up[1:])} {
			got, msg := NormalizeCountry(v, CountryAlpha3)
			if known != (msg == "") || got != want3 {
				t.Fatalf("NormalizeCountry(%q, alpha-3) = %q, %q; want %q", v, got, msg, want3)
			}
			got2, msg := NormalizeCountry(v, CountryAlpha2)
			if known != (msg == "") || (known && got2 != toAlpha2[want3]) {
				t.Fatalf("NormalizeCountry(%q, alpha-2) = %q, %q; want %q", v, got2, msg, toAlpha2[want3])
			}
		}
	}
	for n := range 26 * 26 * 26 {
		up := string([]byte{byte('A' + n/676), byte('A' + n/26%26), byte('A' + n%26)})
		want := ""
		if alpha3[up] {
			want = up
		}
		check(up, alpha3[up], want)
	}
	for n := range 26 * 26 {
		up := string([]byte{byte('A' + n/26), byte('A' + n%26)})
		check(up, alpha2[up] != "", alpha2[up])
	}
	if len(alpha2) != 249 || len(toAlpha2) != 249 {
		t.Errorf("%d alpha-2 and %d alpha-3 codes, want 249 of each", len(alpha2), len(toAlpha2))
	}
}

func TestParseCountryForm(t *testing.T) {
	for in, want := range map[string]CountryForm{"": CountryAlpha3, "alpha-3": CountryAlpha3, "ALPHA-2": CountryAlpha2, "alpha2": CountryAlpha2} {
		if got, err := ParseCountryForm(in); err != nil || got != want {
			t.Errorf("ParseCountryForm(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseCountryForm("numeric"); err == nil || err.Error() != `"numeric" is not a country code form: use alpha-3 or alpha-2` {
		t.Errorf("ParseCountryForm(numeric) error %v", err)
	}
}

// emailByRunes is the email rule as written, a rune at a time: the reference
// checkEmail's one pass must agree with.
func emailByRunes(addr string) (string, bool) {
	if strings.ContainsFunc(addr, isControl) {
		return "", false
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.ContainsAny(domain, "@ ") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.ContainsAny(local, " ") {
		return "", false
	}
	return strings.ToLower(addr), true
}

// FuzzNormalizeAddress checks the one-pass email check against the rule as
// written, by runes, and the token check against its rule.
func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{"John.Stiles@Example.com", "a@b.c", "@b.c", "a@.b", "a@b.", "a@b", "a b@c.d", "a@b@c.d",
		"Zoë@Example.com", "ZOË@EXAMPLE.COM", "İ@b.c", "a\x01@b.c", "a\x7f@b.c", "a@b\xff.c", "A@B.C.", "ab", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		if utf8.ValidString(addr) { // the decoders check values before they are set
			got, ok := checkEmail(addr, &arena.Strings{})
			want, wantOk := emailByRunes(addr)
			if got != want || ok != wantOk {
				t.Fatalf("%q: checkEmail %q %v, by runes %q %v", addr, got, ok, want, wantOk)
			}
		}
		got, msg := NormalizeAddress("GCM", addr)
		want, wantMsg := addr, ""
		if strings.ContainsFunc(addr, func(r rune) bool { return r == ' ' || isControl(r) }) {
			want, wantMsg = "", "contains white space"
		}
		if got != want || msg != wantMsg {
			t.Fatalf("token %q: got %q %q, want %q %q", addr, got, msg, want, wantMsg)
		}
	})
}

// exactChannel must know Channels exactly.
func TestExactChannel(t *testing.T) {
	for _, c := range Channels {
		if got := exactChannel(c); got != c {
			t.Errorf("exactChannel(%q) = %q", c, got)
		}
		if got := exactChannel(strings.ToLower(c)); got != "" {
			t.Errorf("exactChannel(%q) = %q, want \"\": only the exact spelling", strings.ToLower(c), got)
		}
	}
	for _, v := range []string{"", "FCM", "Push", "EMAIL "} {
		if got := exactChannel(v); got != "" {
			t.Errorf("exactChannel(%q) = %q, not a channel", v, got)
		}
	}
}

// commonDate must agree with scanDate's general path on every input it takes.
func FuzzCommonDate(f *testing.F) {
	for _, s := range []string{"20171011T150548Z", "2017-10-11T15:05:48.123Z", "20240229T235959Z", "20230229T000000Z",
		"2017-13-11T15:05:48.123Z", "2017-10-11T24:05:48.123Z", "2017/10-11T15:05:48.123Z", "2017-10-11T15:05:48.1a3Z",
		"0000-01-01T00:00:00.000Z", "99991231T235959Z", "2017101 T150548Z", "20171011T15054:Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := commonDate(v)
		if !ok {
			return
		}
		want, wantOK := scanGeneral(v)
		if !wantOK || got != want {
			t.Fatalf("commonDate(%q) = %+v; the general path gives %+v, %v", v, got, want, wantOK)
		}
	})
}

// commonUTC must give what the general path gives, on every input it takes.
func FuzzCommonUTC(f *testing.F) {
	for _, s := range []string{"20171011T150548Z", "2017-10-11T15:05:48.123Z", "20240229T235959Z", "20230229T000000Z",
		"2017-13-11T15:05:48.123Z", "2017-10-11T15:05:48.1a3Z", "0000-01-01T00:00:00.000Z", "20171011T15054:Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := commonUTC(v, &arena.Strings{})
		if !ok {
			return
		}
		var buf [32]byte
		f, fok := scanGeneral(v)
		if !fok || f.offset != 0 {
			t.Fatalf("commonUTC(%q) = %q; the general path refuses it", v, got)
		}
		if want := string(f.appendUTC(buf[:0])); got != want {
			t.Fatalf("commonUTC(%q) = %q, the general path gives %q", v, got, want)
		}
	})
}

// The short path must take the numbers files are full of, so that they do not
// reach strconv.
func TestParseShortDecimalTakesCommonNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"440", 440}, {"-61.2086", -61.2086}, {"+7", 7}, {".5", 0.5}, {"5.", 5}, {"0", 0},
		{"12345678.1234567", 12345678.1234567}, {"99999999", 99999999}, {"0.00000001", 1e-8},
	}
	for _, tt := range tests {
		if got, ok := parseShortDecimal(tt.in); !ok || got != tt.want {
			t.Errorf("parseShortDecimal(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
	for _, in := range []string{"", ".", "-", "1e5", "1.2.3", "1234567890123456", "0x10", "1_0", " 1", "١"} {
		if got, ok := parseShortDecimal(in); ok {
			t.Errorf("parseShortDecimal(%q) = %v: not a short decimal", in, got)
		}
	}
}
