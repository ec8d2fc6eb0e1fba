package endpoint

import (
	_ "embed"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the tz database travels in the binary: Lambda images need not have it

	"github.com/segport/segport/internal/arena"
)

//go:embed countries.txt
var countriesTxt string

// CountryForm is the ISO 3166-1 form Location.Country is stored in. Both forms
// are accepted: the 2018 import guide asks for alpha-3 ("USA"), today's
// Pinpoint and its exports write alpha-2 ("US"). The zero value is alpha-3.
type CountryForm uint8

const (
	CountryAlpha3 CountryForm = iota // "USA", the spec's form and the default
	CountryAlpha2                    // "US", today's Pinpoint's form
)

// ParseCountryForm reads the CountryCodes template parameter: "alpha-3" or
// "alpha-2" (any case; empty means alpha-3).
func ParseCountryForm(s string) (CountryForm, error) {
	switch strings.ToLower(s) {
	case "", "alpha-3", "alpha3":
		return CountryAlpha3, nil
	case "alpha-2", "alpha2":
		return CountryAlpha2, nil
	}
	return 0, errors.New(strconv.Quote(s) + ` is not a country code form: use alpha-3 or alpha-2`)
}

func (f CountryForm) String() string {
	if f == CountryAlpha2 {
		return "alpha-2"
	}
	return "alpha-3"
}

// alpha3 holds the ISO 3166-1 alpha-3 codes; alpha2 maps alpha-2 codes to them,
// toAlpha2 alpha-3 codes to alpha-2.
var alpha3, alpha2, toAlpha2 = func() (map[string]bool, map[string]string, map[string]string) {
	a3, a2, to2 := map[string]bool{}, map[string]string{}, map[string]string{}
	for _, line := range strings.Split(countriesTxt, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(line, "#") {
			continue
		}
		a3[f[1]], a2[f[0]], to2[f[1]] = true, f[1], f[0]
	}
	return a3, a2, to2
}()

// lookalikes are codes people write that ISO 3166-1 does not assign (exceptional
// reservations and old codes), with the country they mean, as alpha-2.
var lookalikes = map[string]string{
	"UK": "GB", "EL": "GR", "ENG": "GB", "SCO": "GB", "WAL": "GB", "NIR": "GB",
}

// alpha3Codes lists the alpha-3 codes and alpha2Codes their alpha-2 codes, in the
// same order; alpha3Index maps three letters (see letters) to 1 + their index
// in them, or 0, and alpha2Index two letters. Every row of a file may name a
// country: a table lookup is cheaper than upper-casing and hashing.
var alpha3Codes, alpha2Codes, alpha3Index, alpha2Index = func() ([]string, []string, *[26 * 26 * 26]uint8, *[26 * 26]uint8) {
	codes := make([]string, 0, len(alpha3))
	for c := range alpha3 {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	twos := make([]string, len(codes))
	var index3 [26 * 26 * 26]uint8
	var index2 [26 * 26]uint8
	for i, c := range codes {
		twos[i] = toAlpha2[c]
		n, _ := letters(c, 3)
		index3[n] = uint8(i + 1)
		n, _ = letters(twos[i], 2)
		index2[n] = uint8(i + 1)
	}
	return codes, twos, &index3, &index2
}()

// letters returns the number of a string of size ASCII letters, in any case.
func letters(v string, size int) (int, bool) {
	if len(v) != size {
		return 0, false
	}
	n := 0
	for i := range size {
		c := v[i] | 0x20 // lower case
		if c < 'a' || c > 'z' {
			return 0, false
		}
		n = n*26 + int(c-'a')
	}
	return n, true
}

// NormalizeCountry returns v, an ISO 3166-1 alpha-2 or alpha-3 code in any letter
// case, as the code of form, or a message saying why v is not one (with a
// suggestion when a code is close). The message never repeats v: a column
// shifted by a missing comma can put an address here.
func NormalizeCountry(v string, form CountryForm) (string, string) {
	i := 0
	if n, ok := letters(v, 3); ok {
		i = int(alpha3Index[n])
	} else if n, ok := letters(v, 2); ok {
		i = int(alpha2Index[n])
	}
	if i > 0 {
		if form == CountryAlpha2 {
			return alpha2Codes[i-1], ""
		}
		return alpha3Codes[i-1], ""
	}
	msg := "not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA)"
	if s := suggestCountry(strings.ToUpper(v)); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return "", msg
}

// suggestCountry returns the codes up most likely meant, or "": a code people
// write that ISO does not assign (UK), or the codes of the same length that two
// swapped letters, or else one changed letter, would give (at most three).
func suggestCountry(up string) string {
	if c, ok := lookalikes[up]; ok {
		if len(up) == 3 {
			c, _ = Alpha3(c)
		}
		return c
	}
	if len(up) != 2 && len(up) != 3 {
		return ""
	}
	valid := func(c string) bool {
		if len(c) == 3 {
			return alpha3[c]
		}
		_, ok := alpha2[c]
		return ok
	}
	// A few candidates are a suggestion; many are a guess.
	list := func(cands map[string]bool) string {
		if len(cands) > 3 {
			return ""
		}
		cs := make([]string, 0, len(cands))
		for c := range cands {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		if len(cs) > 1 {
			return strings.Join(cs[:len(cs)-1], ", ") + " or " + cs[len(cs)-1]
		}
		return strings.Join(cs, "")
	}
	swapped, changed := map[string]bool{}, map[string]bool{}
	b := []byte(up)
	for i := 0; i+1 < len(b); i++ {
		b[i], b[i+1] = b[i+1], b[i]
		if c := string(b); c != up && valid(c) {
			swapped[c] = true
		}
		b[i], b[i+1] = b[i+1], b[i]
	}
	if len(swapped) > 0 {
		return list(swapped)
	}
	for i := range b {
		orig := b[i]
		for l := byte('A'); l <= 'Z'; l++ {
			if l == orig {
				continue
			}
			b[i] = l
			if c := string(b); valid(c) {
				changed[c] = true
			}
		}
		b[i] = orig
	}
	return list(changed)
}

// Alpha3 converts an alpha-2 country code to alpha-3.
func Alpha3(alpha2Code string) (string, bool) {
	c, ok := alpha2[strings.ToUpper(alpha2Code)]
	return c, ok
}

var zones sync.Map // name -> bool, for valid names only

// ValidTimezone reports whether name is a zone of the tz database.
func ValidTimezone(name string) bool {
	if _, ok := zones.Load(name); ok {
		return true
	}
	if name == "" || name == "Local" || strings.ContainsAny(name, " \\") {
		return false
	}
	if _, err := time.LoadLocation(name); err != nil {
		return false
	}
	zones.Store(name, true)
	return true
}

// normalizeLocale accepts "en_US", "en-us", "en" and "es_419" and returns the
// ISO 15897 spelling: language in lower case, territory in upper case, joined by "_".
func normalizeLocale(v string) (string, bool) {
	if canonicalLocale(v) {
		return v, true
	}
	lang, terr, hasTerr := strings.Cut(strings.ReplaceAll(v, "-", "_"), "_")
	if len(lang) < 2 || len(lang) > 3 || !allLetters(lang) {
		return "", false
	}
	lang = strings.ToLower(lang)
	if !hasTerr {
		return lang, true
	}
	switch {
	case len(terr) == 2 && allLetters(terr):
		return lang + "_" + strings.ToUpper(terr), true
	case len(terr) == 3 && strings.Trim(terr, "0123456789") == "":
		return lang + "_" + terr, true
	}
	return "", false
}

// canonicalLocale reports whether v is already in the form normalizeLocale returns:
// "en", "en_US" or "es_419".
func canonicalLocale(v string) bool {
	if len(v) == 5 && v[2] == '_' { // the common "en_US", without Cut and ToLower
		return isLower(v[0]) && isLower(v[1]) && isUpper(v[3]) && isUpper(v[4])
	}
	lang, terr, hasTerr := strings.Cut(v, "_")
	if len(lang) < 2 || len(lang) > 3 || strings.ToLower(lang) != lang || !allLetters(lang) {
		return false
	}
	switch {
	case !hasTerr:
		return true
	case len(terr) == 2:
		return terr[0] >= 'A' && terr[0] <= 'Z' && terr[1] >= 'A' && terr[1] <= 'Z'
	case len(terr) == 3:
		return strings.Trim(terr, "0123456789") == ""
	}
	return false
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

var dateLayouts = []string{
	"20060102T150405Z0700",
	"20060102T150405.999999999Z0700",
	"20060102T1504Z0700",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02",
	"20060102",
}

// ParseDate parses an ISO 8601 date-time in basic (20171011T150548Z) or extended
// (2017-10-11T15:05:48.123+02:00) form, or a calendar date (midnight UTC).
func ParseDate(v string) (time.Time, bool) {
	if len(v) < 8 || len(v) > 40 {
		return time.Time{}, false
	}
	if t, ok := parseDateFast(v); ok {
		return t, true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			// A UTC year outside 0..9999 would not format back to four digits.
			if t = t.UTC(); t.Year() < 0 || t.Year() > 9999 {
				return time.Time{}, false
			}
			return t, true
		}
	}
	return time.Time{}, false
}

// DateLayout is the canonical EffectiveDate form: UTC, fixed width, milliseconds,
// so that dates sort as strings.
const DateLayout = "2006-01-02T15:04:05.000Z"

// FormatDate formats t in DateLayout.
func FormatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// normalizeDate returns the EffectiveDate v in DateLayout, or false if ParseDate
// would refuse it. It returns v itself when it already is in that form, and avoids
// the time package for dates given in UTC.
func normalizeDate(v string, strs *arena.Strings) (string, bool) {
	if d, ok := commonUTC(v, strs); ok {
		return d, true
	}
	var buf [32]byte
	var out []byte
	if f, ok := scanDate(v); ok && f.offset == 0 {
		if len(v) == len(DateLayout) && v[10] == 'T' && v[19] == '.' {
			return v, true // extended, UTC, milliseconds: appendUTC would give v
		}
		out = f.appendUTC(buf[:0])
	} else {
		t, ok := ParseDate(v)
		if !ok {
			return "", false
		}
		out = appendDate(buf[:0], t)
	}
	if string(out) == v {
		return v, true
	}
	return strs.String(out), true
}

// appendDate appends t in DateLayout, as t.AppendFormat would for the years
// ParseDate accepts (0 to 9999), without interpreting the layout.
func appendDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	f := dateFields{year, int(month), day, hour, minute, second, t.Nanosecond(), 0}
	return f.appendUTC(b)
}

// dateFields are the parts of a date-time as written, before its offset applies.
type dateFields struct {
	year, month, day, hour, minute, second, nanosecond int
	offset                                             int // seconds east of UTC
}

func (f dateFields) appendUTC(b []byte) []byte {
	b = append4(b, f.year)
	b = append2(append(b, '-'), f.month)
	b = append2(append(b, '-'), f.day)
	b = append2(append(b, 'T'), f.hour)
	b = append2(append(b, ':'), f.minute)
	b = append2(append(b, ':'), f.second)
	ms := f.nanosecond / 1e6
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, 'Z')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10%10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte { return append2(append2(b, v/100), v) }

// parseDateFast parses the two common forms, 20171011T150548Z and
// 2017-10-11T15:05:48.123Z (with a Z or a numeric offset), without time.Parse's
// layout interpretation. It gives what ParseDate's layouts give, or reports false
// and leaves the input to them.
func parseDateFast(v string) (time.Time, bool) {
	f, ok := scanDate(v)
	if !ok {
		return time.Time{}, false
	}
	t := time.Date(f.year, time.Month(f.month), f.day, f.hour, f.minute, f.second, f.nanosecond, time.UTC).
		Add(-time.Duration(f.offset) * time.Second)
	if t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// scanDate reads the fields of a date-time in one of the forms parseDateFast takes.
func scanDate(v string) (dateFields, bool) {
	if f, ok := commonDate(v); ok {
		return f, true
	}
	return scanGeneral(v)
}

func scanGeneral(v string) (dateFields, bool) {
	var d [6]int // year, month, day, hour, minute, second
	extended := false
	switch {
	case len(v) >= 15 && v[8] == 'T':
	case len(v) >= 19 && v[4] == '-' && v[7] == '-' && v[10] == 'T' && v[13] == ':' && v[16] == ':':
		extended = true
	default:
		return dateFields{}, false
	}
	i := 0
	for k, w := range [6]int{4, 2, 2, 2, 2, 2} {
		if (k > 0 && extended) || k == 3 {
			i++ // '-', 'T' or ':'
		}
		n, ok := digits(v, i, w)
		if !ok {
			return dateFields{}, false
		}
		d[k], i = n, i+w
	}
	ns := 0
	if i < len(v) && v[i] == '.' {
		j := i + 1
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		if j == i+1 || j-i-1 > 9 {
			return dateFields{}, false
		}
		frac, _ := digits(v, i+1, j-i-1)
		for range 9 - (j - i - 1) {
			frac *= 10
		}
		ns, i = frac, j
	}
	offset, ok := zoneOffset(v[i:], extended)
	if !ok || d[1] < 1 || d[1] > 12 || d[2] < 1 || d[2] > daysIn(d[1], d[0]) || d[3] > 23 || d[4] > 59 || d[5] > 59 {
		return dateFields{}, false
	}
	return dateFields{d[0], d[1], d[2], d[3], d[4], d[5], ns, offset}, true
}

// commonUTC is normalizeDate for the two forms most files use, 20171011T150548Z
// and 2017-10-11T15:05:48.123Z: it checks their digits and ranges and moves the
// digits of the first into place, where the general path parses a date and
// prints it. False leaves anything else, valid or not, to the general path.
func commonUTC(v string, strs *arena.Strings) (string, bool) {
	switch {
	case len(v) == len(DateLayout):
		if v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' || v[19] != '.' || v[23] != 'Z' {
			return "", false
		}
		_, ms1 := twoDigits(v[20], v[21]) // milliseconds
		_, ms2 := twoDigits(v[22], '0')
		return v, ms1 && ms2 && validDigits(v, &extendedPairs)
	case len(v) == 16 && v[8] == 'T' && v[15] == 'Z':
		if !validDigits(v, &basicPairs) {
			return "", false
		}
		var out [len(DateLayout)]byte
		copy(out[:], "0000-00-00T00:00:00.000Z")
		copy(out[0:4], v[0:4])
		copy(out[5:7], v[4:6])
		copy(out[8:10], v[6:8])
		copy(out[11:13], v[9:11])
		copy(out[14:16], v[11:13])
		copy(out[17:19], v[13:15])
		return strs.String(out[:]), true
	}
	return "", false
}

// Where the pairs of digits of the year (two), month, day, hour, minute and second
// are in the two common forms.
var (
	extendedPairs = [7]int{0, 2, 5, 8, 11, 14, 17} // 2017-10-11T15:05:48.000Z
	basicPairs    = [7]int{0, 2, 4, 6, 9, 11, 13}  // 20171011T150548Z
)

// validDigits reports whether the pairs of digits of v at the offsets in at write
// a date and time that exists.
func validDigits(v string, at *[7]int) bool {
	n, ok := datePairs(v, at)
	return ok && validFields(n[0]*100+n[1], n[2], n[3], n[4], n[5], n[6])
}

// datePairs reads the pairs of digits of v at the offsets in at, and reports
// whether they all are digits.
func datePairs(v string, at *[7]int) (n [7]int, ok bool) {
	ok = true
	for i, o := range at {
		d, digits := twoDigits(v[o], v[o+1])
		n[i], ok = d, ok && digits
	}
	return n, ok
}

// twoDigits returns the number the digits a and b write, and whether they are digits.
func twoDigits(a, b byte) (int, bool) {
	a, b = a-'0', b-'0' // a byte below '0' wraps past 9
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

// validFields reports whether a date and time exists.
func validFields(year, month, day, hour, minute, second int) bool {
	return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, year) && hour <= 23 && minute <= 59 && second <= 59
}

// commonDate is scanDate for the two forms most files use, 20171011T150548Z and
// 2017-10-11T15:05:48.000Z, in a few comparisons; false sends anything else,
// valid or not, to scanDate's general path.
func commonDate(v string) (dateFields, bool) {
	var n [7]int
	var ok bool
	ns := 0
	switch {
	case len(v) == 16 && v[8] == 'T' && v[15] == 'Z':
		n, ok = datePairs(v, &basicPairs)
	case len(v) == 24 && v[4] == '-' && v[7] == '-' && v[10] == 'T' && v[13] == ':' && v[16] == ':' && v[19] == '.' && v[23] == 'Z':
		n, ok = datePairs(v, &extendedPairs)
		ms, ms1 := twoDigits(v[20], v[21])
		last, ms2 := twoDigits(v[22], '0')
		ns, ok = (ms*10+last/10)*1e6, ok && ms1 && ms2
	}
	f := dateFields{year: n[0]*100 + n[1], month: n[2], day: n[3], hour: n[4], minute: n[5], second: n[6], nanosecond: ns}
	return f, ok && validFields(f.year, f.month, f.day, f.hour, f.minute, f.second)
}

// zoneOffset parses "Z", "+hh:mm" (extended) or "+hhmm" (basic) into seconds east.
func zoneOffset(z string, extended bool) (int, bool) {
	if z == "Z" {
		return 0, true
	}
	if len(z) != 5+btoi(extended) || (z[0] != '+' && z[0] != '-') || (extended && z[3] != ':') {
		return 0, false
	}
	hh, ok1 := digits(z, 1, 2)
	mm, ok2 := digits(z, len(z)-2, 2)
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, false
	}
	off := hh*3600 + mm*60
	if z[0] == '-' {
		off = -off
	}
	return off, true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// digits parses the n decimal digits of s at i.
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
