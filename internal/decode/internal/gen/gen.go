// Package gen generates realistic endpoint files for tests and benchmarks: the same
// rows as CSV or as newline-delimited JSON, deterministic for a seed, streamed in
// constant memory whatever the size.
package gen

import (
	"io"
	"math/rand/v2"
	"strconv"
)

// Format selects the generated file format.
type Format int

// The formats.
const (
	CSV Format = iota
	JSON
)

// Header is the CSV header of generated files. Attributes.Interests repeats: in
// CSV a repeated column adds a value.
var Header = []string{
	"ChannelType", "Address", "EndpointStatus", "OptOut", "EffectiveDate",
	"Location.Country", "Location.City", "Location.PostalCode", "Location.Latitude", "Location.Longitude",
	"Demographic.Platform", "Demographic.Make", "Demographic.Model", "Demographic.Locale", "Demographic.Timezone",
	"Attributes.Interests", "Attributes.Interests", "Metrics.Sessions", "Metrics.CartValue",
	"User.UserId", "User.UserAttributes.FirstName", "User.UserAttributes.Note",
}

var (
	firstNames = []string{"John", "Wang", "Maria", "José", "Zoë", "Aiko", "Olu", "Anna", "Mateo", "Priya", "Liam", "Fatima"}
	lastNames  = []string{"stiles", "xiulan", "garcia", "silva", "mueller", "tanaka", "okafor", "kowalski", "rossi", "patel"}
	cities     = []struct{ country, city, tz, locale string }{
		{"USA", "Seattle", "America/Los_Angeles", "en_US"},
		{"USA", "Washington, D.C.", "America/New_York", "en_US"},
		{"CAN", "Toronto", "America/Toronto", "en_CA"},
		{"CHN", "Beijing", "Asia/Shanghai", "zh_CN"},
		{"EGY", "Cairo", "Africa/Cairo", "ar_EG"},
		{"DEU", "Berlin", "Europe/Berlin", "de_DE"},
		{"JPN", "Tokyo", "Asia/Tokyo", "ja_JP"},
		{"BRA", "São Paulo", "America/Sao_Paulo", "pt_BR"},
		{"IND", "Mumbai", "Asia/Kolkata", "hi_IN"},
		{"GBR", "London", "Europe/London", "en_GB"},
	}
	devices = []struct{ platform, make, model string }{
		{"iOS", "Apple", "iPhone 15"},
		{"Android", "Google", "Pixel 8"},
		{"Android", "Samsung", "Galaxy S24"},
		{"Android", "LG", ""},
		{"Android", "OnePlus", "12R"},
	}
	interests = []string{"sports", "music", "travel", "cooking", "books", "gaming", "fashion", "tech", "film", "fitness"}
	notes     = []string{
		"",
		"prefers email",
		`says "hi", often`,
		"line one\nline two",
		"vip, since 2019",
		`she said "call me", then left`,
	}
)

// Reader streams a generated file of about size bytes: whole rows until size is
// reached (and the header, for CSV).
type Reader struct {
	f      Format
	rng    *rand.Rand
	left   int64
	n      int // rows generated
	buf    []byte
	pos    int
	header bool
}

// NewReader returns a reader of a generated file in format f.
func NewReader(f Format, seed uint64, size int64) *Reader {
	return &Reader{f: f, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), left: size, header: f == CSV}
}

// Rows returns a generated file of n rows (and the header, for CSV).
func Rows(f Format, seed uint64, n int) []byte {
	r := NewReader(f, seed, 1<<62)
	var out []byte
	if r.header {
		out = r.appendHeader(out)
		r.header = false
	}
	for range n {
		out = r.appendRow(out)
	}
	return out
}

// Count returns the number of rows generated so far.
func (r *Reader) Count() int { return r.n }

func (r *Reader) Read(p []byte) (int, error) {
	if r.pos == len(r.buf) {
		if r.left <= 0 {
			return 0, io.EOF
		}
		r.buf, r.pos = r.buf[:0], 0
		if r.header {
			r.buf = r.appendHeader(r.buf)
			r.header = false
		}
		for len(r.buf) < 32*1024 && r.left > int64(len(r.buf)) {
			r.buf = r.appendRow(r.buf)
		}
		r.left -= int64(len(r.buf))
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}

func (r *Reader) appendHeader(b []byte) []byte {
	for i, h := range Header {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, h...)
	}
	return append(b, '\n')
}

// row is one generated endpoint; empty strings are absent values.
type row struct {
	channel, address, status, optOut, date    string
	country, city, postal, lat, long          string
	platform, make, model, locale, tz         string
	interest1, interest2, sessions, cartValue string
	userID, firstName, note                   string
}

func (r *Reader) next() row {
	rng := r.rng
	r.n++
	id := strconv.Itoa(r.n)
	first := firstNames[rng.IntN(len(firstNames))]
	var x row
	switch k := rng.IntN(10); {
	case k < 4:
		x.channel = "EMAIL"
		x.address = first + "." + lastNames[rng.IntN(len(lastNames))] + id + "@example.com"
	case k < 7:
		x.channel = "SMS"
		x.address = "+1206" + strconv.Itoa(5550000+rng.IntN(9999999-5550000))
	case k < 9:
		x.channel = "APNS"
		x.address = hex(rng, 64)
	default:
		x.channel = "GCM"
		x.address = hex(rng, 32)
	}
	if rng.IntN(4) > 0 {
		x.status = "ACTIVE"
	} else {
		x.status = "INACTIVE"
	}
	if rng.IntN(5) == 0 {
		x.optOut = "ALL"
	} else {
		x.optOut = "NONE"
	}
	day, sec := 1+rng.IntN(28), rng.IntN(86400)
	if rng.IntN(2) == 0 {
		x.date = "202310" + two(day) + "T" + two(sec/3600) + two(sec/60%60) + two(sec%60) + "Z"
	} else {
		x.date = "2023-10-" + two(day) + "T" + two(sec/3600) + ":" + two(sec/60%60) + ":" + two(sec%60) + ".250Z"
	}
	c := cities[rng.IntN(len(cities))]
	x.country, x.city, x.tz, x.locale = c.country, c.city, c.tz, c.locale
	x.postal = strconv.Itoa(10000 + rng.IntN(89999))
	x.lat = strconv.FormatFloat(rng.Float64()*180-90, 'f', 4, 64)
	x.long = strconv.FormatFloat(rng.Float64()*360-180, 'f', 4, 64)
	d := devices[rng.IntN(len(devices))]
	x.platform, x.make, x.model = d.platform, d.make, d.model
	x.interest1 = interests[rng.IntN(len(interests))]
	if rng.IntN(2) == 0 {
		x.interest2 = interests[rng.IntN(len(interests))]
	}
	x.sessions = strconv.Itoa(rng.IntN(500))
	x.cartValue = strconv.FormatFloat(float64(rng.IntN(100000))/100, 'f', -1, 64)
	x.userID = "user-" + strconv.Itoa(rng.IntN(r.n+1))
	x.firstName = first
	x.note = notes[rng.IntN(len(notes))]
	return x
}

func (r *Reader) appendRow(b []byte) []byte {
	x := r.next()
	if r.f == JSON {
		return appendJSON(b, &x)
	}
	return appendCSV(b, &x)
}

func appendCSV(b []byte, x *row) []byte {
	for i, v := range []string{
		x.channel, x.address, x.status, x.optOut, x.date,
		x.country, x.city, x.postal, x.lat, x.long,
		x.platform, x.make, x.model, x.locale, x.tz,
		x.interest1, x.interest2, x.sessions, x.cartValue,
		x.userID, x.firstName, x.note,
	} {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, v)
	}
	return append(b, '\n')
}

func appendCSVField(b []byte, v string) []byte {
	quote := false
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if !quote {
		return append(b, v...)
	}
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, v[i])
	}
	return append(b, '"')
}

func appendJSON(b []byte, x *row) []byte {
	o := jsonObject{b: b}
	o.open()
	o.str("ChannelType", x.channel)
	o.str("Address", x.address)
	o.str("EndpointStatus", x.status)
	o.str("OptOut", x.optOut)
	o.str("EffectiveDate", x.date)
	o.group("Location")
	o.str("Country", x.country)
	o.str("City", x.city)
	o.str("PostalCode", x.postal)
	o.num("Latitude", x.lat)
	o.num("Longitude", x.long)
	o.close()
	o.group("Demographic")
	o.str("Platform", x.platform)
	o.str("Make", x.make)
	o.str("Model", x.model)
	o.str("Locale", x.locale)
	o.str("Timezone", x.tz)
	o.close()
	o.group("Attributes")
	o.list("Interests", x.interest1, x.interest2)
	o.close()
	o.group("Metrics")
	o.num("Sessions", x.sessions)
	o.num("CartValue", x.cartValue)
	o.close()
	o.group("User")
	o.str("UserId", x.userID)
	o.group("UserAttributes")
	o.list("FirstName", x.firstName)
	o.list("Note", x.note)
	o.close()
	o.close()
	o.close()
	return append(o.b, '\n')
}

// jsonObject writes nested JSON objects, leaving out empty values.
type jsonObject struct {
	b     []byte
	first bool
}

func (o *jsonObject) open()  { o.b, o.first = append(o.b, '{'), true }
func (o *jsonObject) close() { o.b, o.first = append(o.b, '}'), false }

func (o *jsonObject) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) group(k string) { o.key(k); o.open() }

func (o *jsonObject) str(k, v string) {
	if v != "" {
		o.key(k)
		o.b = appendJSONString(o.b, v)
	}
}

func (o *jsonObject) num(k, v string) {
	if v != "" {
		o.key(k)
		o.b = append(o.b, v...)
	}
}

func (o *jsonObject) list(k string, vs ...string) {
	n := 0
	for _, v := range vs {
		if v == "" {
			continue
		}
		if n == 0 {
			o.key(k)
			o.b = append(o.b, '[')
		} else {
			o.b = append(o.b, ',')
		}
		o.b = appendJSONString(o.b, v)
		n++
	}
	if n > 0 {
		o.b = append(o.b, ']')
	}
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func two(n int) string {
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

func hex(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.IntN(16)]
	}
	return string(b)
}
