package endpoint

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the tz database travels in the binary: Lambda images need not have it
)

//go:embed countries.txt
var countriesTxt string

// alpha3 holds the ISO 3166-1 alpha-3 codes; alpha2 maps alpha-2 codes to them.
var alpha3, alpha2 = func() (map[string]bool, map[string]string) {
	a3, a2 := map[string]bool{}, map[string]string{}
	for _, line := range strings.Split(countriesTxt, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(line, "#") {
			continue
		}
		a3[f[1]], a2[f[0]] = true, f[1]
	}
	return a3, a2
}()

// NormalizeCountry returns the ISO 3166-1 alpha-3 code for v (any letter case), or a
// message saying why v is not one.
func NormalizeCountry(v string) (string, string) {
	up := strings.ToUpper(v)
	if alpha3[up] {
		return up, ""
	}
	if c, ok := alpha2[up]; ok {
		return "", v + ": did you mean " + c + "? (ISO 3166-1 alpha-3 is required)"
	}
	return "", strconv.Quote(v) + " is not an ISO 3166-1 alpha-3 country code"
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
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// DateLayout is the canonical EffectiveDate form: UTC, fixed width, milliseconds,
// so that dates sort as strings.
const DateLayout = "2006-01-02T15:04:05.000Z"

// FormatDate formats t in DateLayout.
func FormatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// NormalizeAddress checks an address against its channel and returns the form used
// for storage and for the derived Id. Messages never repeat the address: it is PII.
func NormalizeAddress(channel, addr string) (string, string) {
	switch channel {
	case "EMAIL":
		local, domain, ok := strings.Cut(addr, "@")
		if !ok || local == "" || !strings.Contains(domain, ".") || strings.ContainsAny(domain, "@ ") ||
			strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.ContainsAny(local, " ") {
			return "", "not a valid email address"
		}
		return strings.ToLower(addr), ""
	case "SMS", "VOICE":
		return normalizePhone(addr)
	}
	if strings.ContainsFunc(addr, func(r rune) bool { return r == ' ' || isControl(r) }) {
		return "", "contains white space"
	}
	return addr, ""
}

func normalizePhone(addr string) (string, string) {
	var b strings.Builder
	b.Grow(len(addr))
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+' && b.Len() == 0 && i == strings.IndexByte(addr, '+'):
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return "", "not a phone number: only digits, a leading +, spaces, dashes, dots and parentheses are allowed"
		}
	}
	digits := strings.TrimPrefix(b.String(), "+")
	if len(digits) < 3 || len(digits) > 15 {
		return "", "not a phone number: it must have 3 to 15 digits"
	}
	return b.String(), ""
}

// DerivedId is the Id of an endpoint imported without one: a hash of its channel and
// normalised address, so that importing the same rows again updates, not duplicates.
func DerivedId(channel, normalizedAddr string) string {
	h := sha256.New()
	h.Write([]byte(channel))
	h.Write([]byte{0})
	h.Write([]byte(normalizedAddr))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
