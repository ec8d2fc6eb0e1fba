package endpoint

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parseFinite parses a finite decimal number. ParseFloat alone would also take
// "0x1p4", "1_000", "Inf" and "NaN", which are not numbers in an endpoint file.
func parseFinite(v string) (float64, bool) {
	if f, ok := parseShortDecimal(v); ok {
		return f, true
	}
	if !isDecimal(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// DynamoDB stores a number of up to 38 significant digits whose magnitude is 0
// or from 1E-130 to 9.9999999999999999999999999999999999999E+125; it refuses
// the whole item of any other, and with it the batch the item travels in. A
// metric is a float64, as Pinpoint's are (doubles), written in its shortest
// round-trip form: at most 17 significant digits, so only the magnitude can
// be out of range.
const (
	minDynamoMagnitude = 1e-130
	maxDynamoMagnitude = 1e126 // excluded: its shortest form is 1E+126
)

// dynamoNumber reports whether DynamoDB can store f as it will be written.
func dynamoNumber(f float64) bool {
	f = math.Abs(f)
	return f == 0 || (f >= minDynamoMagnitude && f < maxDynamoMagnitude)
}

// checkText says why a value cannot be imported, or "" when it can: it holds a
// control character other than tab, LF and CR, or U+FFFE or U+FFFF, which SQS
// refuses in a message body (it carries #x9, #xA, #xD, #x20-#xD7FF,
// #xE000-#xFFFD and #x10000-#x10FFFF; UTF-8 holds no surrogates). Such a value
// would make SQS refuse the whole batch of rows it travels in. v is valid UTF-8.
func checkText(v string) string {
	i := 0
	for i < len(v) && v[i]-0x20 < 0x60 { // printable ASCII and DEL, as most values are
		i++
	}
	for _, r := range v[i:] {
		switch {
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
			return fmt.Sprintf("holds the control character U+%04X; only tab, LF and CR are allowed", r)
		case r == 0xFFFE || r == 0xFFFF:
			return fmt.Sprintf("holds U+%04X, a noncharacter that SQS cannot carry", r)
		}
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// plainASCII reports whether s is printable ASCII without white space at its ends:
// a name that needs no closer look.
func plainASCII(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// ValidId reports whether id can be a stored endpoint's Id: every import checks
// its Ids by this rule, so an id it refuses names no endpoint.
func ValidId(id string) bool { return id != "" && checkId(id) == "" }

func checkId(v string) string {
	if len(v) > 128 {
		return "longer than 128 bytes"
	}
	if strings.ContainsFunc(v, isControl) {
		return "contains control characters"
	}
	return ""
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseShortDecimal parses [+-]digits[.digits] of at most 15 digits without
// strconv: the digits and the power of ten are exact in a float64, so one
// division rounds as ParseFloat does. Anything else reports false.
func parseShortDecimal(v string) (float64, bool) {
	i, neg := 0, false
	if len(v) > 0 && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		i++
	}
	var mant uint64
	start := i
	for ; i < len(v); i++ { // the integer part, then the fraction: no test for the point a digit
		d := v[i] - '0' // a byte below '0' wraps past 9
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
	}
	n, frac := i-start, 0
	if i < len(v) && v[i] == '.' {
		i++
		point := i
		for ; i < len(v); i++ {
			d := v[i] - '0'
			if d > 9 {
				break
			}
			mant = mant*10 + uint64(d)
		}
		frac = i - point
		n += frac
	}
	if i != len(v) || n == 0 || n > 15 {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// isDecimal reports whether v is [+-]digits[.digits][(e|E)[+-]digits], where either
// side of the point may be empty but not both.
func isDecimal(v string) bool {
	i := 0
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(v) && v[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(v)
}
