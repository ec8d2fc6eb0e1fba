package main

import (
	"fmt"
	"io"
	"os"
)

// cleanWriter escapes control characters on their way to a terminal: a file
// name, a header or a stored value holding ESC [ ... would otherwise recolour
// or rewrite the user's screen. Line feeds and tabs pass; other C0 characters
// and DEL become \xHH, C1 characters (U+0080 to U+009F) \u00HH.
type cleanWriter struct{ w io.Writer }

func (c cleanWriter) Write(p []byte) (int, error) {
	clean := true
	for i, b := range p {
		if isControl(p, i) && b != '\n' && b != '\t' {
			clean = false
			break
		}
	}
	if clean {
		return c.w.Write(p)
	}
	out := make([]byte, 0, len(p)+16)
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch {
		case b == '\n' || b == '\t' || !isControl(p, i):
			out = append(out, b)
		case b < 0x80:
			out = fmt.Appendf(out, `\x%02x`, b)
		default: // C2 80..9F, a C1 character
			out = fmt.Appendf(out, `\u%04x`, p[i+1])
			i++
		}
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// isControl reports whether p[i] starts a control character: a C0 byte, DEL,
// or the UTF-8 encoding of a C1 character.
func isControl(p []byte, i int) bool {
	b := p[i]
	return b < 0x20 || b == 0x7f || (b == 0xc2 && i+1 < len(p) && p[i+1] >= 0x80 && p[i+1] <= 0x9f)
}

// raw is the writer under a cleanWriter: the progress line's own escapes
// (carriage return, erase line) go there.
func raw(w io.Writer) io.Writer {
	if c, ok := w.(cleanWriter); ok {
		return c.w
	}
	return w
}

func isTerminal(w io.Writer) bool {
	f, ok := raw(w).(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
