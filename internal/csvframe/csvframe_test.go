package csvframe

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"testing"
)

// byBytes is After by the definition, one byte at a time.
func byBytes(s State, b []byte) State {
	for _, c := range b {
		s = s.Next(c)
	}
	return s
}

func TestAfter(t *testing.T) {
	tests := []struct {
		name  string
		from  State
		input string
		want  State
	}{
		{name: "plain line ends the record", from: FieldStart, input: "a,b\n", want: FieldStart},
		{name: "plain part", from: FieldStart, input: "a,b", want: Unquoted},
		{name: "part ending at a comma", from: Unquoted, input: "a,", want: FieldStart},
		{name: "empty", from: Quoted, input: "", want: Quoted},
		{name: "quoted field", from: FieldStart, input: `"a,b",c` + "\n", want: FieldStart},
		{name: "quoted field opens a line break", from: FieldStart, input: `a,"b` + "\n", want: Quoted},
		{name: "line break in quotes, then closed", from: Quoted, input: `x",y` + "\n", want: FieldStart},
		{name: "doubled quote", from: FieldStart, input: `"a""` + "\n", want: Quoted},
		{name: "doubled quote closed", from: FieldStart, input: `"a""b"""` + "\n", want: FieldStart},
		{name: "bare quote in an unquoted field", from: FieldStart, input: `15" screen,x` + "\n", want: FieldStart},
		{name: "bare quote then a quoted-looking field", from: FieldStart, input: `a"b,"c` + "\n", want: FieldStart},
		{name: "bare quote, part", from: FieldStart, input: `a"b,"c`, want: Bad},
		{name: "quote after a space", from: FieldStart, input: ` "a` + "\n", want: FieldStart},
		{name: "text after a closing quote", from: FieldStart, input: `"a"b,"c` + "\n", want: FieldStart},
		{name: "closing quote before CRLF", from: FieldStart, input: `"a"` + "\r\n", want: FieldStart},
		{name: "closing quote at the end of a part", from: FieldStart, input: `"a"`, want: QuoteInQuoted},
		{name: "quote opening the second field", from: Unquoted, input: `x,"`, want: Quoted},
		{name: "quote in a field read from Unquoted", from: Unquoted, input: `"x` + "\n", want: FieldStart},
		{name: "from QuoteInQuoted, a doubled quote", from: QuoteInQuoted, input: `"x` + "\n", want: Quoted},
		{name: "from QuoteInQuoted, a comma", from: QuoteInQuoted, input: `,"x` + "\n", want: Quoted},
		{name: "from Bad", from: Bad, input: `,"x`, want: Bad},
		{name: "from Bad, the line ends", from: Bad, input: `,"x` + "\n", want: FieldStart},
		{name: "lines", from: FieldStart, input: "a,b\nc,\"d\ne\"\nf\n", want: FieldStart},
		{name: "lines, a quoted field open", from: FieldStart, input: "a,b\nc,\"d\n", want: Quoted},
		{name: "quote after a newline opens", from: Unquoted, input: "a\n\"b", want: Quoted},
		{name: "bad record, then a quote at a field's start", from: FieldStart, input: "a\"b,\"c\n\"d", want: Quoted},
		{name: "bad record, then plain", from: FieldStart, input: "a\"b\nc", want: Unquoted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.from.After([]byte(tt.input)); got != tt.want {
				t.Errorf("After = %d, want %d", got, tt.want)
			}
			if got := byBytes(tt.from, []byte(tt.input)); got != tt.want {
				t.Errorf("by bytes = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOpenAfter(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{name: "no quotes", input: "a,b\n", want: false},
		{name: "a quoted field", input: "a,\"b,c\"\n", want: false},
		{name: "a quoted field open", input: "a,\"b\n", want: true},
		{name: "a doubled quote in an open field", input: "\"a\"\"b\n", want: true},
		{name: "a stray quote", input: "15\" screen\n", want: false},
		{name: "a stray quote, then an opening one", input: "a\"b,\"c\n", want: false},
		{name: "a stray quote after a quoted field", input: "\"a\",b\"c,\"d\n", want: false},
		{name: "the end of the file", input: "a,\"b", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OpenAfter([]byte(tt.input)); got != tt.want {
				t.Errorf("OpenAfter = %v, want %v", got, tt.want)
			}
		})
	}
}

// lines cuts b after each newline and, within lines, at the cuts given by
// the bytes of cuts, as bufio.Reader.ReadSlice does when its buffer fills.
func lines(b []byte, cuts []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := len(b)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			n = i + 1
		}
		if len(cuts) > 0 {
			n = min(n, 1+int(cuts[0])%len(b))
			cuts = cuts[1:]
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// blocks cuts b at the cuts given by the bytes of cuts, newlines or not.
func blocks(b []byte, cuts []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := len(b)
		if len(cuts) > 0 {
			n = 1 + int(cuts[0])%len(b)
			cuts = cuts[1:]
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// records returns the offsets at which the records of data end, as a reader
// framing it with Line finds them (blank lines are records here).
func records(data []byte) []int {
	var ends []int
	s, off := FieldStart, 0
	for _, l := range lines(data, nil) {
		s = s.After(l)
		off += len(l)
		if l[len(l)-1] == '\n' && s != Quoted {
			ends = append(ends, off)
		}
	}
	if off > 0 && (len(ends) == 0 || ends[len(ends)-1] != off) {
		ends = append(ends, off)
	}
	return ends
}

// csvRecords returns the offsets at which encoding/csv ends its records, bad
// ones included, skipping blank lines.
func csvRecords(data []byte) []int {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var ends []int
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			return ends
		}
		ends = append(ends, int(r.InputOffset()))
	}
}

// blank reports whether the record data[start:end] is a blank line, as
// encoding/csv skips them: nothing but a line ending (a CR alone counts as one
// at the end of the file).
func blank(data []byte, start, end int) bool {
	l := string(bytes.TrimSuffix(data[start:end], []byte{'\n'}))
	return l == "" || l == "\r"
}

var seeds = []string{
	"a,b\nc,d\n",
	"\"a\nb\",c\n\"\"\"\",\"\n\"\r\n",
	"x,15\" screen,y\nnext,row\n\"q\nuoted\",z\n",
	"a\"b,\"c\nd\"\ne,f\n",
	"\"a\"b,\"c\nd\"\n",
	"\"unterminated\nx,y\n",
	" \"a\n\"\n\r\n\n,,\n\"\"\n",
}

// FuzzFrame checks Line against the byte-at-a-time definition, whatever the
// cuts, and the record ends it gives against encoding/csv's.
func FuzzFrame(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), []byte{3, 1, 4})
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		s, ref := FieldStart, FieldStart
		for _, l := range blocks(data, cuts) {
			s, ref = s.After(l), byBytes(ref, l)
			if s != ref {
				t.Fatalf("%q: After gives %d, the definition %d", data, s, ref)
			}
		}
		for _, l := range lines(data, nil) { // each line as if a record started there
			if got, want := OpenAfter(l), FieldStart.After(l) == Quoted; got != want {
				t.Fatalf("%q: OpenAfter says %v", l, got)
			}
		}
		var got []int
		start := 0
		for _, end := range records(data) {
			if !blank(data, start, end) {
				got = append(got, end)
			}
			start = end
		}
		if want := csvRecords(data); !slices.Equal(got, want) {
			t.Fatalf("%q: records end at %v, encoding/csv ends them at %v", data, got, want)
		}
	})
}

// FuzzTransition checks that transitions of chunks read apart, combined in
// order, find the record ends of the sequential reading.
func FuzzTransition(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), uint8(3), []byte{2, 7})
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint8, cuts []byte) {
		if size == 0 {
			return
		}
		want := map[int]bool{} // the newlines that end records, read from the start
		seq, pos := FieldStart, 0
		for _, l := range lines(data, nil) {
			seq = seq.After(l)
			pos += len(l)
			if l[len(l)-1] == '\n' && seq != Quoted {
				want[pos] = true
			}
		}
		got := map[int]bool{}
		s := FieldStart
		for start := 0; start < len(data); start += int(size) {
			chunk := data[start:min(len(data), start+int(size))]
			tr := NewTransition()
			for _, b := range blocks(chunk, cuts) {
				tr.Add(b)
			}
			// Every newline of the chunk after the first boundary is found by
			// reading on from FieldStart.
			if off := tr.First[s]; off >= 0 {
				got[start+int(off)+1] = true
				rest := chunk[off+1:]
				s2, pos := FieldStart, start+int(off)+1
				for _, l := range lines(rest, nil) {
					s2 = s2.After(l)
					pos += len(l)
					if l[len(l)-1] == '\n' && s2 != Quoted {
						got[pos] = true
					}
				}
				if s2 != tr.To[s] {
					t.Fatalf("%q: chunk at %d ends in %d, read on %d", data, start, tr.To[s], s2)
				}
			}
			if n := bytes.Count(chunk, []byte{'\n'}); tr.Newlines != n {
				t.Fatalf("%q: %d newlines, want %d", data, tr.Newlines, n)
			}
			s = tr.To[s]
		}
		for end := range want {
			if !got[end] {
				t.Fatalf("%q (chunks of %d): the record ending at %d is missed", data, size, end)
			}
		}
		for end := range got {
			if !want[end] {
				t.Fatalf("%q (chunks of %d): %d is no record end", data, size, end)
			}
		}
	})
}
