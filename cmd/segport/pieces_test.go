package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// genCSV writes a CSV endpoint file of n rows with every framing a piece
// boundary could get wrong: quoted commas, doubled quotes and line breaks
// (LF and CRLF), CRLF and LF line ends, blank lines, and bad rows (an unknown
// channel, a bad country, a wrong field count, a stray quote, a bad metric).
func genCSV(seed uint64, n int, bom bool) string {
	rnd := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	if bom {
		b.WriteString("\uFEFF")
	}
	b.WriteString("ChannelType,Address,Attributes.Interest,Attributes.Interest,Metrics.Score,User.UserId,Location.Country\r\n")
	for i := range n {
		eol := "\n"
		if rnd.IntN(2) == 0 {
			eol = "\r\n"
		}
		interest := fmt.Sprintf("books%d", i)
		switch rnd.IntN(5) {
		case 0:
			interest = fmt.Sprintf(`"a, b ""c"" %d"`, i)
		case 1:
			interest = "\"line one\nline two\""
		case 2:
			interest = "\"crlf\r\ninside\r\n\""
		}
		row := fmt.Sprintf("EMAIL,user%d@example.com,%s,music,%d.5,u%d,USA", i, interest, i%97, i%13)
		if rnd.IntN(2) == 0 {
			row = fmt.Sprintf("SMS,+1206555%04d,%s,,%d,,US", i, interest, i)
		}
		switch rnd.IntN(12) {
		case 0:
			row = "FAX" + row[strings.IndexByte(row, ','):]
		case 1:
			row = strings.Replace(row, ",USA", ",UK", 1)
		case 2:
			row += ",extra"
		case 3:
			row = "EMAIL,a\"b@example.com,x,y,1,,USA"
		case 4:
			row = strings.Replace(row, ",music,", ",music,NaNx", 1)
		case 5:
			b.WriteString(eol) // a blank line
		}
		b.WriteString(row + eol)
	}
	return b.String()
}

// genJSON writes the NDJSON counterpart, with bad lines.
func genJSON(seed uint64, n int) string {
	rnd := rand.New(rand.NewPCG(seed, 2))
	var b strings.Builder
	for i := range n {
		switch rnd.IntN(10) {
		case 0:
			b.WriteString(`{"ChannelType":"FAX","Address":"x"}` + "\n")
		case 1:
			b.WriteString(`{"ChannelType":"EMAIL",` + "\n")
		case 2:
			b.WriteString("\r\n")
		default:
			fmt.Fprintf(&b, `{"ChannelType":"EMAIL","Address":"u%d@example.com","Attributes":{"Interest":["a\nb","c,\"d\""]},"Metrics":{"Score":%d}}`+"\r\n", i, i)
		}
	}
	return b.String()
}

// runBoth runs the CLI on one file sequentially and split into pieces of each
// size, and fails unless every run's output is byte-identical.
func runBoth(t *testing.T, sizes []int64, args ...string) {
	t.Helper()
	defer func(m, p int64) { parallelMin, parallelPiece = m, p }(parallelMin, parallelPiece)
	parallelMin = 1 << 62
	wantOut, wantErr, wantCode := runCLI(t, args...)
	if wantOut == "" && wantErr == "" {
		t.Fatalf("%v printed nothing", args)
	}
	parallelMin = 0
	for _, size := range sizes {
		parallelPiece = size
		out, errOut, code := runCLI(t, args...)
		if out != wantOut || errOut != wantErr || code != wantCode {
			t.Errorf("%v with %d-byte pieces differs from one pass:\ncode %d, want %d\nstdout\n%s\nwant\n%s\nstderr\n%s\nwant\n%s",
				args, size, code, wantCode, out, wantOut, errOut, wantErr)
			return
		}
	}
}

func TestParallelMatchesSequential(t *testing.T) {
	sizes := []int64{31, 97, 500, 2048, 8192, 1 << 20}
	csvBody := genCSV(1, 300, false)
	csvFile := writeFile(t, "gen.csv", csvBody)
	bomFile := writeFile(t, "bom.csv", genCSV(2, 300, true))
	// A non-UTF-8 byte two thirds in stops the file: later pieces print nothing.
	cut := strings.Index(csvBody[2*len(csvBody)/3:], "\n") + 2*len(csvBody)/3 + 1
	brokenFile := writeFile(t, "broken.csv", csvBody[:cut]+"EMAIL,\xff@example.com,x,y,1,,USA\n"+csvBody[cut:])
	// A quote left open runs to the end of the file.
	openFile := writeFile(t, "open.csv", csvBody+"EMAIL,\"never closed\n"+csvBody[strings.IndexByte(csvBody, '\n')+1:])
	jsonFile := writeFile(t, "gen.json", genJSON(3, 300))
	userIds := writeFile(t, "users.csv", "User.UserId\r\n"+strings.Repeat("u1 u2\nu3\r\n\"u4\nu5\"\n", 40))
	tests := []struct {
		name string
		args []string
	}{
		{"validate csv", []string{"validate", csvFile}},
		{"validate csv json", []string{"validate", "--json", csvFile}},
		{"validate bom", []string{"validate", bomFile}},
		{"validate broken", []string{"validate", brokenFile}},
		{"validate broken json", []string{"validate", "--json", brokenFile}},
		{"validate open quote", []string{"validate", openFile}},
		{"parse open quote", []string{"parse", openFile}},
		{"validate ndjson", []string{"validate", jsonFile}},
		{"validate user ids", []string{"validate", userIds}},
		{"parse csv", []string{"parse", csvFile}},
		{"parse bom", []string{"parse", bomFile}},
		{"parse broken", []string{"parse", brokenFile}},
		{"parse ndjson", []string{"parse", jsonFile}},
		{"parse user ids", []string{"parse", userIds}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runBoth(t, sizes, tc.args...) })
	}
	t.Run("tiny pieces", func(t *testing.T) {
		tiny := writeFile(t, "tiny.csv", genCSV(4, 12, true))
		runBoth(t, []int64{1, 2, 3, 4, 5, 7}, "validate", tiny)
		runBoth(t, []int64{1, 2, 3, 4, 5, 7}, "parse", tiny)
	})
}
