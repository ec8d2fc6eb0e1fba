// Package corpus generates endpoint files that exercise what makes imports
// order-sensitive: the same endpoint many times within a file and across
// files and segments, partial updates, equal and missing EffectiveDates,
// shared users, quoted CSV fields with commas and line breaks, and invalid
// rows of every kind. The chaos tests and the soak import them.
package corpus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// File is one generated file, with the key it is imported under.
type File struct {
	Key  string // imports/<segment>/<name>
	Body []byte
	// Replace makes the file's import replace its segment's version (it is
	// dropped with the metadata segport-mode: replace).
	Replace bool
}

// segments are where the files go; two files share the first.
var segments = []string{"alpha", "alpha", "beta", "gamma"}

// Generate returns files holding about rows rows in all, the same for the
// same seed: four files (CSV and NDJSON in turn) into three segments.
func Generate(seed uint64, rows int) []File {
	g := &gen{rng: rand.New(rand.NewPCG(seed, 0x5e9)), pool: max(rows/4, 10)}
	files := make([]File, len(segments))
	for i, seg := range segments {
		n := rows / len(segments)
		if i%2 == 0 {
			files[i] = File{Key: fmt.Sprintf("imports/%s/part-%d.csv", seg, i), Body: g.csv(n)}
		} else {
			files[i] = File{Key: fmt.Sprintf("imports/%s/part-%d.json", seg, i), Body: g.ndjson(n)}
		}
	}
	return files
}

type gen struct {
	rng  *rand.Rand
	pool int // distinct endpoints
}

// row is one row's fields by attribute name; a missing name is not given.
// Tags may hold two values (a repeated CSV column).
type row map[string]any

var header = []string{"Id", "ChannelType", "Address", "EffectiveDate", "EndpointStatus", "OptOut",
	"Location.Country", "Location.City", "Demographic.Make", "Attributes.Tags", "Attributes.Tags",
	"Metrics.score", "User.UserId", "User.UserAttributes.Tier"}

func (g *gen) csv(n int) []byte {
	var b bytes.Buffer
	b.WriteString(strings.Join(header, ",") + "\n")
	for range n {
		r := g.row()
		tags, _ := r["Attributes.Tags"].([]string)
		for i, h := range header {
			if i > 0 {
				b.WriteByte(',')
			}
			v := ""
			switch {
			case h == "Attributes.Tags":
				if len(tags) > 0 {
					v, tags = tags[0], tags[1:]
				}
			case r[h] != nil:
				v = fmt.Sprint(r[h])
				if l, ok := r[h].([]string); ok {
					v = l[0]
				}
			}
			b.WriteString(csvField(v))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func csvField(v string) string {
	if strings.ContainsAny(v, ",\"\n") {
		return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
	}
	return v
}

func (g *gen) ndjson(n int) []byte {
	var b bytes.Buffer
	for range n {
		r := g.row()
		// Nested as Pinpoint nests it; encoding/json sorts the keys.
		obj := map[string]any{}
		for k, v := range r {
			set(obj, strings.Split(k, "."), v)
		}
		line, _ := json.Marshal(obj)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func set(obj map[string]any, path []string, v any) {
	if len(path) == 1 {
		obj[path[0]] = v
		return
	}
	sub, ok := obj[path[0]].(map[string]any)
	if !ok {
		sub = map[string]any{}
		obj[path[0]] = sub
	}
	set(sub, path[1:], v)
}

func (g *gen) pick(vals ...string) string { return vals[g.rng.IntN(len(vals))] }

// row draws one row: mostly a full or partial row of an endpoint from the
// pool, sometimes an invalid one.
func (g *gen) row() row {
	if g.rng.IntN(25) == 0 {
		return g.invalid()
	}
	i := g.rng.IntN(g.pool)
	r := row{}
	// A third of the endpoints have an explicit Id and get partial updates;
	// the others are keyed by channel and address.
	explicit := i%3 == 0
	if explicit {
		r["Id"] = fmt.Sprintf("ep-%05d", i)
	}
	if !explicit || g.rng.IntN(3) > 0 {
		if i%2 == 0 {
			r["ChannelType"], r["Address"] = "EMAIL", fmt.Sprintf("user%05d@example.com", i)
		} else {
			r["ChannelType"], r["Address"] = "SMS", fmt.Sprintf("+1 206 555 %04d", i%10000)
		}
	}
	if g.rng.IntN(10) > 0 {
		// Few distinct dates, so that rows often tie and job, file and line decide.
		r["EffectiveDate"] = fmt.Sprintf("2024-%02d-%02dT00:00:00Z", 1+g.rng.IntN(3), 1+g.rng.IntN(4))
	}
	g.attributes(r)
	return r
}

// attributes sets a random subset of the other attributes.
func (g *gen) attributes(r row) {
	maybe := func() bool { return g.rng.IntN(2) == 0 }
	if maybe() {
		r["EndpointStatus"] = g.pick("ACTIVE", "INACTIVE")
	}
	if g.rng.IntN(4) == 0 {
		r["OptOut"] = g.pick("ALL", "NONE")
	}
	if maybe() {
		r["Location.Country"] = g.pick("USA", "CAN", "MEX", "FRA")
	}
	if maybe() {
		r["Location.City"] = g.pick("Seattle", "Portland, OR", `The "City"`, "New\nYork")
	}
	if maybe() {
		r["Demographic.Make"] = g.pick("Apple", "Samsung", "Google")
	}
	if maybe() {
		tags := []string{fmt.Sprintf("t%d", g.rng.IntN(9))}
		if maybe() {
			tags = append(tags, fmt.Sprintf("u%d", g.rng.IntN(9)))
		}
		r["Attributes.Tags"] = tags
	}
	if maybe() {
		r["Metrics.score"] = float64(g.rng.IntN(1000)) / 4
	}
	if maybe() {
		r["User.UserId"] = fmt.Sprintf("user-%d", g.rng.IntN(max(g.pool/3, 1)))
		if maybe() {
			r["User.UserAttributes.Tier"] = []string{g.pick("gold", "silver", "bronze")}
		}
	}
}

// invalid draws a row that fails validation.
func (g *gen) invalid() row {
	r := row{"ChannelType": "EMAIL", "Address": fmt.Sprintf("bad%d@example.com", g.rng.IntN(g.pool))}
	switch g.rng.IntN(7) {
	case 0:
		r["Address"] = "not-an-address"
	case 1:
		r["ChannelType"] = "FAX"
	case 2:
		r["Location.Country"] = "UK"
	case 3:
		r["Metrics.score"] = "many"
	case 4:
		r["EffectiveDate"] = "yesterday"
	case 5:
		r["User.UserAttributes.Tier"] = []string{"gold"} // no User.UserId
	default:
		delete(r, "Address")
	}
	return r
}
