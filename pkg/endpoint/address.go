package endpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/segport/segport/internal/arena"
)

// NormalizeAddress checks an address against its channel and returns the form used
// for storage and for the derived Id. Messages never repeat the address: it is PII.
func NormalizeAddress(channel, addr string) (string, string) {
	return normalizeAddress(channel, addr, nil)
}

// normalizeAddress is NormalizeAddress with the strings it makes taken from strs.
func normalizeAddress(channel, addr string, strs *arena.Strings) (string, string) {
	switch channel {
	case "EMAIL":
		lower, ok := checkEmail(addr, strs)
		if !ok {
			return "", "not a valid email address"
		}
		return lower, ""
	case "SMS", "VOICE":
		return normalizePhone(addr)
	}
	for i := 0; i < len(addr); i++ {
		// A byte below 0x80 is that character, in valid UTF-8 or not.
		if c := addr[i]; c == ' ' || c < 0x20 || c == 0x7f {
			return "", "contains white space"
		}
	}
	return addr, ""
}

// checkEmail checks an email address and returns it in lower case. An address has
// an @ with something before it and a dot after it, its domain neither starts nor
// ends with a dot, and it has no second @, no space and no control character. One
// pass over the bytes checks it; a second, when it has capitals, lowers them: by
// bytes when it is ASCII, else a rune at a time, as strings.ToLower does.
func checkEmail(addr string, strs *arena.Strings) (string, bool) {
	at, dot, upper, other := -1, false, false, false
	for i := 0; i < len(addr); i++ {
		switch emailClass[addr[i]] {
		case emailPlain: // most bytes: first
		case emailUpper:
			upper = true
		case emailDot:
			dot = dot || at >= 0
		case emailAt:
			if at >= 0 {
				return "", false // a second @, in the domain
			}
			at = i
		case emailBad:
			return "", false
		case emailNonASCII:
			other = true
		}
	}
	if at <= 0 || !dot || addr[at+1] == '.' || addr[len(addr)-1] == '.' {
		return "", false
	}
	if !upper && !other {
		return addr, true
	}
	var buf [128]byte
	lower := buf[:0]
	if other {
		for i := 0; i < len(addr); {
			if c := addr[i]; c < utf8.RuneSelf {
				if c-'A' < 26 {
					c += 'a' - 'A'
				}
				lower = append(lower, c)
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(addr[i:])
			lower = utf8.AppendRune(lower, unicode.ToLower(r))
			i += size
		}
	} else {
		lower = append(lower, addr...)
		for i, c := range lower {
			if c-'A' < 26 {
				lower[i] = c + 'a' - 'A'
			}
		}
	}
	return strs.String(lower), true
}

// The classes of the bytes of an email address, for checkEmail: one table lookup
// a byte instead of a comparison for each class.
const (
	emailPlain = iota
	emailUpper
	emailDot
	emailAt
	emailBad      // control characters and the space
	emailNonASCII // a byte of a multi-byte character
)

var emailClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= 0x80:
			t[c] = emailNonASCII
		case c < 0x20 || c == 0x7f || c == ' ':
			t[c] = emailBad
		case c == '@':
			t[c] = emailAt
		case c == '.':
			t[c] = emailDot
		case c >= 'A' && c <= 'Z':
			t[c] = emailUpper
		}
	}
	return t
}()

func normalizePhone(addr string) (string, string) {
	if plainPhone(addr) {
		return addr, ""
	}
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

// plainPhone reports whether addr is already a normalised phone number: an
// optional leading + and 3 to 15 digits.
func plainPhone(addr string) bool {
	digits := strings.TrimPrefix(addr, "+")
	if len(digits) < 3 || len(digits) > 15 {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// DerivedId is the Id of an endpoint imported without one: a hash of its channel and
// normalised address, so that importing the same rows again updates, not duplicates.
// It is the first 16 bytes of SHA-256(channel, 0, address) in hex.
func DerivedId(channel, normalizedAddr string) string {
	var scratch []byte
	return derivedId(channel, normalizedAddr, nil, &scratch)
}

// derivedIdLen is the length of every derived Id: 16 bytes in hex.
const derivedIdLen = 32

// derivedId is DerivedId with its strings from strs and *scratch to hash in.
func derivedId(channel, normalizedAddr string, strs *arena.Strings, scratch *[]byte) string {
	msg := append(append(append((*scratch)[:0], channel...), 0), normalizedAddr...)
	*scratch = msg
	sum := sha256.Sum256(msg)
	var out [derivedIdLen]byte
	for i, c := range sum[:derivedIdLen/2] {
		binary.LittleEndian.PutUint16(out[2*i:], hexPairs[c])
	}
	return strs.String(out[:])
}

// hexPairs holds the two lower-case hex digits of every byte, as
// binary.LittleEndian.PutUint16 writes them: a lookup a byte, where hex.Encode
// takes two.
var hexPairs = func() (t [256]uint16) {
	const digits = "0123456789abcdef"
	for c := range t {
		t[c] = uint16(digits[c>>4]) | uint16(digits[c&15])<<8
	}
	return t
}()
