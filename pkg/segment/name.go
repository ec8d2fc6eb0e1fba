package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes bounds a segment name: it is a folder of the drop-folder keys
// (imports/<name>/...), whose whole key S3 limits to 1,024 bytes.
const MaxNameBytes = 255

// ErrInvalidName is what every *NameError wraps, for errors.Is.
var ErrInvalidName = errors.New("invalid segment name or id")

// NameError is a segment name or id that the rule refuses. Every surface (the
// CLI, the trigger, the HTTP API, the Go client) reports the same message.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("segment name %s: %s", QuoteShort(e.Name), e.Reason)
}

func (e *NameError) Unwrap() error { return ErrInvalidName }

// QuoteShort quotes a name or id a caller sent, its control characters
// escaped, cut to 64 bytes: a message that repeats a 60 KB name helps nobody.
func QuoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("... (%d bytes)", len(s))
}

// CheckName checks a segment name. A name is 1 to MaxNameBytes bytes of UTF-8
// (any script: Unicode is kept as it is), without "/" (it is one folder of a
// drop-folder key), neither "." nor "..", without control characters (nor
// U+FFFE, U+FFFF, which SQS cannot carry), and not of the form of an id (16
// lower-case hex digits), so that no name can be mistaken for another
// segment's id.
func CheckName(name string) error {
	bad := func(reason string) error { return &NameError{Name: name, Reason: reason} }
	switch {
	case name == "":
		return bad("a segment name cannot be empty")
	case len(name) > MaxNameBytes:
		return bad(fmt.Sprintf("a segment name is at most %d bytes of UTF-8, this one has %d", MaxNameBytes, len(name)))
	case !utf8.ValidString(name):
		return bad("a segment name must be UTF-8")
	case name == "." || name == "..":
		return bad(`a segment name cannot be "." or ".."`)
	case IsId(name):
		return bad("a segment name cannot be 16 lower-case hex digits: that is the form of a segment id")
	}
	for i, r := range name {
		switch {
		case r == '/':
			return bad(`a segment name cannot contain "/"`)
		case unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF:
			return bad(fmt.Sprintf("a segment name cannot contain the control character %U (byte %d)", r, i+1))
		}
	}
	return nil
}

// IdOf returns the id of the segment with the given name: the hex of the first
// 8 bytes of SHA-256("segment" NUL name). Every segment's id is derived from
// its name.
func IdOf(name string) string {
	h := sha256.Sum256([]byte("segment\x00" + name))
	return hex.EncodeToString(h[:8])
}

// IsId reports whether s has the form of a segment id: 16 lower-case hex digits.
func IsId(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// CheckId checks a segment id given on its own, as an ImportJobRequest's
// SegmentId: it must have the form IdOf gives.
func CheckId(id string) error {
	if !IsId(id) {
		return &NameError{Name: id, Reason: "a segment id is 16 lower-case hex digits (the id derived from the segment's name)"}
	}
	return nil
}

// Resolve returns the id of the segment a reference names: a reference of the
// form of an id is that id, anything else is a name, whose id is IdOf(name).
// Names cannot have the form of an id, so a reference names at most one
// segment, on every surface alike. An invalid name is a *NameError.
func Resolve(ref string) (string, error) {
	if IsId(ref) {
		return ref, nil
	}
	if err := CheckName(ref); err != nil {
		return "", err
	}
	return IdOf(ref), nil
}
