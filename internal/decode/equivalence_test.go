package decode

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/segport/segport/internal/csvframe"
	"github.com/segport/segport/internal/decode/internal/gen"
)

const allCSV = `Id,ChannelType,Address,EndpointStatus,OptOut,EffectiveDate,RequestId,Location.City,Location.Country,Location.Latitude,Location.Longitude,Location.PostalCode,Location.Region,Demographic.AppVersion,Demographic.Locale,Demographic.Make,Demographic.Model,Demographic.ModelVersion,Demographic.Platform,Demographic.PlatformVersion,Demographic.Timezone,Attributes.Interests,Attributes.Interests,Metrics.sessions,Metrics.cart,User.UserId,User.UserAttributes.FirstName,User.UserAttributes.Note
,SMS,+1 (206) 555-0182,ACTIVE,NONE,20171011T150548Z,req-1,"Washington, D.C.",usa,38.8951,-77.0364,20001,DC,1.2.3,en-us,LG,"5"" screen",2,Android,14,America/New_York,music,"travel, food",12,-3.25,user-1,Zoë,"line one
line two"
ep-2,EMAIL,Wang.Xiulan@Example.com,inactive,all,2017-10-11T15:05:48.5+02:00,,Beijing,CHN,39.9,116.4,,,,zh_CN,OnePlus,,,Android,,Asia/Shanghai,books,,0,1e3,user-2,秀兰,
,GCM,4d5e6f1a2b3c4d5e6f7g8h9i0j1a2b3c,,,,,,EGY,-0.04,0.05,,,,,,,,,,,,,,,,,
`

const allJSON = `{"ChannelType":"SMS","Address":"+1 (206) 555-0182","EndpointStatus":"ACTIVE","OptOut":"NONE","EffectiveDate":"20171011T150548Z","RequestId":"req-1","Location":{"City":"Washington, D.C.","Country":"usa","Latitude":38.8951,"Longitude":-77.0364,"PostalCode":"20001","Region":"DC"},"Demographic":{"AppVersion":"1.2.3","Locale":"en-us","Make":"LG","Model":"5\" screen","ModelVersion":"2","Platform":"Android","PlatformVersion":"14","Timezone":"America/New_York"},"Attributes":{"Interests":["music","travel, food"]},"Metrics":{"sessions":12,"cart":-3.25},"User":{"UserId":"user-1","UserAttributes":{"FirstName":["Zoë"],"Note":["line one\nline two"]}}}
{"Id":"ep-2","ChannelType":"EMAIL","Address":"Wang.Xiulan@Example.com","EndpointStatus":"inactive","OptOut":"all","EffectiveDate":"2017-10-11T15:05:48.5+02:00","Location":{"City":"Beijing","Country":"CHN","Latitude":39.9,"Longitude":116.4},"Demographic":{"Locale":"zh_CN","Make":"OnePlus","Platform":"Android","Timezone":"Asia/Shanghai"},"Attributes":{"Interests":"books"},"Metrics":{"sessions":"0","cart":1e3},"User":{"UserId":"user-2","UserAttributes":{"FirstName":"秀兰"}}}
{"ChannelType":"GCM","Address":"4d5e6f1a2b3c4d5e6f7g8h9i0j1a2b3c","Location.Country":"EGY","Location.Latitude":-0.04,"Location.Longitude":"0.05"}
`

// endpointsOf returns the canonical JSON of every endpoint of a file and fails on
// any error.
func endpointsOf(t *testing.T, f Format, data []byte) []string {
	t.Helper()
	d := New(f, bytes.NewReader(data), Options{})
	var out []string
	for {
		row, err := d.Decode()
		if err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("%s: %v", f, err)
		}
		b, err := row.Endpoint.MarshalCanonical()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
}

func TestCSVAndJSONAgree(t *testing.T) {
	tests := []struct {
		name      string
		csv, json []byte
		wantFirst string
	}{
		{name: "every attribute", csv: []byte(allCSV), json: []byte(allJSON),
			wantFirst: `{"Id":"40dcef24296e964b92a780e1a3d7ec3a","ChannelType":"SMS","Address":"+12065550182","EndpointStatus":"ACTIVE","OptOut":"NONE","EffectiveDate":"2017-10-11T15:05:48.000Z","RequestId":"req-1","Location":{"City":"Washington, D.C.","Country":"USA","Latitude":38.9,"Longitude":-77,"PostalCode":"20001","Region":"DC"},"Demographic":{"AppVersion":"1.2.3","Locale":"en_US","Make":"LG","Model":"5\" screen","ModelVersion":"2","Platform":"Android","PlatformVersion":"14","Timezone":"America/New_York"},"Attributes":{"Interests":["music","travel, food"]},"Metrics":{"cart":-3.25,"sessions":12},"User":{"UserId":"user-1","UserAttributes":{"FirstName":["Zoë"],"Note":["line one\nline two"]}}}`},
		{name: "generated", csv: gen.Rows(gen.CSV, 7, 2000), json: gen.Rows(gen.JSON, 7, 2000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, j := endpointsOf(t, CSV, tt.csv), endpointsOf(t, JSON, tt.json)
			if len(c) != len(j) || len(c) == 0 {
				t.Fatalf("%d CSV and %d JSON endpoints", len(c), len(j))
			}
			for i := range c {
				if c[i] != j[i] {
					t.Fatalf("endpoint %d differs:\ncsv  %s\njson %s", i+1, c[i], j[i])
				}
			}
			if tt.wantFirst != "" && c[0] != tt.wantFirst {
				t.Fatalf("first endpoint:\ngot  %s\nwant %s", c[0], tt.wantFirst)
			}
		})
	}
}

// cuts returns n-1 offsets that split data into n pieces at record boundaries: after
// a newline outside quotes (CSV) or after any newline (NDJSON), as the planner does.
func cuts(data []byte, f Format, n int) []int {
	var out []int
	state := csvframe.FieldStart
	next := len(data) / n
	for i, c := range data {
		if f == CSV && !(i < len(bom) && bytes.HasPrefix(data, bom)) {
			state = state.Next(c)
		}
		if c == '\n' && i+1 >= next && state != csvframe.Quoted && i+1 < len(data) {
			out = append(out, i+1)
			next = (len(out) + 1) * len(data) / n
		}
	}
	return out
}

// pieceResults decodes data piece by piece, as parsers of the pieces would.
func pieceResults(t *testing.T, f Format, data []byte, at []int) []string {
	t.Helper()
	var header []string
	start := 0
	var all []string
	for i := 0; i <= len(at); i++ {
		end := len(data)
		if i < len(at) {
			end = at[i]
		}
		piece := data[start:end]
		opts := Options{File: "in", Line: 1 + bytes.Count(data[:start], []byte{'\n'}), Offset: int64(start)}
		if f == CSV && i > 0 {
			opts.Header = header
		}
		d := New(f, bytes.NewReader(piece), opts)
		got, _ := results(t, d)
		all = append(all, got...)
		if f == CSV && i == 0 {
			header = d.(*CSVDecoder).Header()
		}
		if len(got) > 0 && strings.HasPrefix(got[len(got)-1], "file ") {
			break // the whole file stops at a FileError too
		}
		start = end
	}
	return all
}

func TestPieces(t *testing.T) {
	mixed := func(f Format) []byte {
		var b bytes.Buffer
		rows := gen.Rows(genFormat(f), 3, 600)
		lines := bytes.SplitAfter(rows, []byte("\n"))
		if f == CSV {
			b.Write(lines[0])
			lines = lines[1:]
		}
		bad := map[Format][]string{
			CSV:  {"SMS,x\n", "EMAIL,\"not\nan email\",ACTIVE,NONE,,,,,,,,,,,,,,,,,,\n", "\n\n"},
			JSON: {"{\"Id\":\n", "{\"ChannelType\":\"SMS\",\"Address\":\"2065550182\",\"Location\":{\"Country\":\"US\"}}\n", "\n\n"},
		}[f]
		for i, l := range lines {
			b.Write(l)
			if i%97 == 5 {
				b.WriteString(bad[i%len(bad)])
			}
		}
		return b.Bytes()
	}
	for _, f := range []Format{CSV, JSON} {
		data := mixed(f)
		broken := append(bytes.Clone(data[:len(data)*3/4]), append([]byte("\xff"), data[len(data)*3/4:]...)...)
		for _, tt := range []struct {
			name   string
			data   []byte
			pieces int
		}{
			{"whole", data, 1}, {"2 pieces", data, 2}, {"7 pieces", data, 7}, {"40 pieces", data, 40},
			{"not UTF-8, 5 pieces", broken, 5},
		} {
			t.Run(string(f)+"/"+tt.name, func(t *testing.T) {
				want, _ := results(t, New(f, bytes.NewReader(tt.data), Options{File: "in"}))
				at := cuts(tt.data, f, tt.pieces)
				if len(at) != tt.pieces-1 {
					t.Fatalf("%d cuts, want %d", len(at), tt.pieces-1)
				}
				got := pieceResults(t, f, tt.data, at)
				if len(want) < 400 {
					t.Fatalf("only %d records", len(want))
				}
				for i := range max(len(got), len(want)) {
					if i >= len(got) || i >= len(want) || got[i] != want[i] {
						t.Fatalf("record %d differs (of %d and %d):\npieces %.300s\nwhole  %.300s", i, len(got), len(want), at0(got, i), at0(want, i))
					}
				}
			})
		}
	}
}

func at0(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

func genFormat(f Format) gen.Format {
	if f == JSON {
		return gen.JSON
	}
	return gen.CSV
}

// Every generated endpoint, CSV and NDJSON, has the JSON encoding/json gives it
// from AppendJSON, which the parser encodes its batches with.
func TestAppendJSONOnGeneratedRows(t *testing.T) {
	for f, g := range map[Format]gen.Format{CSV: gen.CSV, JSON: gen.JSON} {
		d := New(f, bytes.NewReader(gen.Rows(g, 2, 2000)), Options{ReuseEndpoint: true})
		rows := 0
		for {
			row, err := d.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				continue // generated bad rows
			}
			want, err := json.Marshal(row.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			got, err := row.Endpoint.AppendJSON(nil, true)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s line %d:\n got %s %v\nwant %s", f, row.Line, got, err, want)
			}
			rows++
		}
		if rows < 1000 {
			t.Fatalf("%s: %d rows compared, want most of 2000", f, rows)
		}
	}
}
