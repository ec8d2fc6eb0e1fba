package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/segport/segport/pkg/job"
)

// A scenario is what one schedule imports: one to three files, each its own
// job, some into the same segment, some replacing it, with valid rows, bad
// rows, and updates of the same endpoints and users across files.
type scenario struct {
	files      []file
	pieceSize  int64
	batchBytes int
	// rangeChunks is how many chunks one plan message scans: 1 to 3, so that
	// planning in parallel messages is exercised (derived, not drawn, to keep
	// the schedules of known seeds).
	rangeChunks int
}

type file struct {
	key     string // imports/<segment>/<name>
	segment string
	jobId   string
	created time.Time // the S3 event's time: the job's creation date
	body    []byte
	json    bool
	// replace makes the file's job replace its segment's version (dropped
	// with segport-mode: replace) rather than append to it.
	replace bool
}

// cell is one attribute of a generated row: its dotted name and its value
// (a string; a JSON number for numbers in NDJSON).
type cell struct {
	name  string
	value any
}

var epoch = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func newScenario(r *rand.Rand, f Faults) scenario {
	sc := scenario{batchBytes: 300 + r.IntN(1500)}
	names := customNames(r)
	segs := []string{"alpha", "beta"}
	n := 1 + r.IntN(3)
	for i := 0; i < n; i++ {
		fl := file{segment: segs[0], json: r.IntN(2) == 0}
		if i > 0 && r.IntN(3) == 0 {
			fl.segment = segs[1]
		}
		ext := ".csv"
		if fl.json {
			ext = ".json"
		}
		fl.key = fmt.Sprintf("imports/%s/f%d%s", fl.segment, i, ext)
		fl.created = epoch.Add(time.Duration(i) * time.Second)
		fl.jobId = job.NewId("sim", fl.key)
		rows := 1 + r.IntN(10)
		if r.IntN(25) == 0 {
			rows = 30 + r.IntN(120)
		}
		gen := make([][]cell, rows)
		for k := range gen {
			gen[k] = newRow(r, names, fl.json, f)
		}
		if fl.json {
			fl.body = renderJSON(r, gen)
		} else {
			fl.body = renderCSV(r, gen)
		}
		// Derived, not drawn, to keep the schedules of known seeds: about a
		// third of the files after the first replace.
		fl.replace = i > 0 && (len(fl.body)+i)%3 == 0
		sc.files = append(sc.files, fl)
	}
	// Pieces of about a fifth to the whole of the largest file: one to a
	// few pieces each, a few more for a large file.
	largest := 0
	for _, f := range sc.files {
		largest = max(largest, len(f.body))
	}
	sc.pieceSize = int64(max(120, largest/(1+r.IntN(5))))
	sc.rangeChunks = 1 + int(sc.pieceSize%3)
	return sc
}

// customNames are the scenario's custom attribute names: a few, one of them
// at the 50-character limit, far from the deployment's 40 names.
func customNames(r *rand.Rand) []string {
	names := []string{"tier", "score", "interests"}
	if r.IntN(2) == 0 {
		names = append(names, strings.Repeat("n", 50))
	}
	return names
}

var channels = []string{"EMAIL", "SMS", "GCM"}

// newRow generates one row: mostly valid, sometimes bad in one of the ways a
// file is bad, and, with FaultRefusedData, sometimes holding a value that SQS
// or DynamoDB would refuse.
func newRow(r *rand.Rand, names []string, isJSON bool, f Faults) []cell {
	var row []cell
	add := func(name string, v any) { row = append(row, cell{name, v}) }
	ch := channels[r.IntN(len(channels))]
	addr := fmt.Sprintf("user%d@example.com", r.IntN(12))
	if ch == "SMS" {
		addr = fmt.Sprintf("+1206555%04d", r.IntN(12))
	}
	if r.IntN(10) < 7 {
		add("Id", fmt.Sprintf("ep%d", r.IntN(15)))
		if r.IntN(3) > 0 {
			add("ChannelType", ch)
			add("Address", addr)
		}
	} else {
		add("ChannelType", ch)
		add("Address", addr)
	}
	if r.IntN(3) == 0 {
		add("EffectiveDate", epoch.Add(time.Duration(r.IntN(3))*24*time.Hour).Format("2006-01-02T15:04:05Z"))
	}
	if r.IntN(3) == 0 {
		add("Demographic.Make", []string{"Apple", "LG", "a,b", `say "hi"`, "two\nlines", "Zoë"}[r.IntN(6)])
	}
	if r.IntN(4) == 0 {
		add("Location.City", []string{"Seattle", "Paris", "Île-de-France"}[r.IntN(3)])
	}
	if r.IntN(2) == 0 {
		add("User.UserId", fmt.Sprintf("u%d", r.IntN(5)))
		if r.IntN(2) == 0 {
			add("User.UserAttributes."+names[r.IntN(len(names))], fmt.Sprintf("v%d", r.IntN(4)))
		}
	}
	if r.IntN(3) == 0 {
		add("Attributes."+names[r.IntN(len(names))], fmt.Sprintf("a%d", r.IntN(4)))
	}
	if r.IntN(3) == 0 {
		add("Metrics."+names[r.IntN(len(names))], number(fmt.Sprint(r.IntN(1000))))
	}
	if r.IntN(8) == 0 {
		row = badRow(r, row, isJSON)
	}
	if f&FaultRefusedData != 0 && r.IntN(12) == 0 {
		row = refusedRow(r, row)
	}
	return row
}

// number is a numeric value: a bare number in NDJSON, text in CSV.
type number string

func set(row []cell, name string, v any) []cell {
	for i := range row {
		if row[i].name == name {
			row[i].value = v
			return row
		}
	}
	return append(row, cell{name, v})
}

func badRow(r *rand.Rand, row []cell, isJSON bool) []cell {
	switch r.IntN(5) {
	case 0:
		return set(row, "ChannelType", "FAX")
	case 1:
		var out []cell // a new endpoint without an Address
		for _, c := range row {
			if c.name != "Id" && c.name != "Address" {
				out = append(out, c)
			}
		}
		return set(out, "ChannelType", "EMAIL")
	case 2:
		return set(row, "EffectiveDate", "not a date")
	case 3:
		return set(row, "Metrics.score", "many")
	default:
		if isJSON {
			return set(row, "Attributes."+strings.Repeat("x", 51), "too long a name")
		}
		return set(row, "Location.Latitude", number("200"))
	}
}

// refusedRow sets a value that a service refuses: characters SQS cannot carry
// or numbers DynamoDB cannot store. Validation must fail the row.
func refusedRow(r *rand.Rand, row []cell) []cell {
	switch r.IntN(4) {
	case 0:
		return set(row, "Demographic.Model", "bad\uFFFEchar")
	case 1:
		return set(row, "Location.City", "bell\u0007")
	case 2:
		return set(row, "Metrics.score", number("1e200"))
	default:
		return set(row, "Metrics.score", number("1e-200"))
	}
}

func renderCSV(r *rand.Rand, rows [][]cell) []byte {
	var cols []string
	index := map[string]int{}
	for _, row := range rows {
		for _, c := range row {
			if _, ok := index[c.name]; !ok {
				index[c.name] = len(cols)
				cols = append(cols, c.name)
			}
		}
	}
	eol := "\n"
	if r.IntN(4) == 0 {
		eol = "\r\n"
	}
	var b bytes.Buffer
	writeLine := func(fields []string) {
		for i, f := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			if strings.ContainsAny(f, ",\"\r\n") {
				f = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
			}
			b.WriteString(f)
		}
		b.WriteString(eol)
	}
	writeLine(cols)
	for _, row := range rows {
		fields := make([]string, len(cols))
		for _, c := range row {
			fields[index[c.name]] = fmt.Sprint(c.value)
		}
		writeLine(fields)
	}
	return b.Bytes()
}

func renderJSON(r *rand.Rand, rows [][]cell) []byte {
	var b bytes.Buffer
	for _, row := range rows {
		obj := map[string]any{}
		for _, c := range row {
			parts := strings.SplitN(c.name, ".", 2)
			var v any = c.value
			if n, ok := v.(number); ok {
				v = json.RawMessage(n)
			}
			family := strings.HasPrefix(c.name, "Attributes.") || strings.HasPrefix(c.name, "User.UserAttributes.")
			if s, ok := v.(string); ok && family {
				v = []string{s}
			}
			switch {
			case len(parts) == 1:
				obj[c.name] = v
			case strings.HasPrefix(c.name, "User.UserAttributes."):
				u, _ := obj["User"].(map[string]any)
				if u == nil {
					u = map[string]any{}
					obj["User"] = u
				}
				ua, _ := u["UserAttributes"].(map[string]any)
				if ua == nil {
					ua = map[string]any{}
					u["UserAttributes"] = ua
				}
				ua[strings.TrimPrefix(c.name, "User.UserAttributes.")] = v
			default:
				m, _ := obj[parts[0]].(map[string]any)
				if m == nil {
					m = map[string]any{}
					obj[parts[0]] = m
				}
				m[parts[1]] = v
			}
		}
		line, err := json.Marshal(obj)
		if err != nil {
			continue // generated values always encode
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if r.IntN(5) == 0 && b.Len() > 0 {
		b.Truncate(b.Len() - 1) // no newline at the end
	}
	return b.Bytes()
}

// deleteFile is a delete file of a few of the scenario's endpoint Ids (and
// one no row names), created between two of its imports, so that some of
// their rows are older than the delete and some newer, whatever order they
// are delivered in. It draws from a source of its own, so that the rest of
// the scenario is the seed's as without it.
func deleteFile(seed int64, imports int) file {
	r := rand.New(rand.NewPCG(uint64(seed), 0xde1e7e))
	var b strings.Builder
	b.WriteString("Id\n")
	for range 1 + r.IntN(6) {
		fmt.Fprintf(&b, "ep%d\n", r.IntN(16)) // ep15: no row names it
	}
	f := file{key: "deletes/d.csv", body: []byte(b.String())}
	f.created = epoch.Add(time.Duration(r.IntN(imports+1))*time.Second - 500*time.Millisecond)
	f.jobId = job.NewId("sim", f.key)
	return f
}

// isDelete reports whether f is a delete file.
func (f file) isDelete() bool { return strings.HasPrefix(f.key, "deletes/") }
