package decode

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestUserIdRows: a CSV file whose header is User.UserId alone lists user IDs,
// several to a line; a JSON line that gives User.UserId alone is one. Both are
// user-ID definitions, not endpoints.
func TestUserIdRows(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		input  string
		want   []string // "line: ids" or "line! error"
	}{
		{"guide csv", CSV, "User.UserId\nexample-user-id-1 example-user-id-2 example-user-id-3\n",
			[]string{"2: example-user-id-1,example-user-id-2,example-user-id-3"}},
		{"one per line, tabs, quotes, CRLF", CSV, "\xEF\xBB\xBFUser.UserId\r\nu1\r\n\"u2\tu3\"\r\n  u4  \r\n", []string{"2: u1", "3: u2,u3", "4: u4"}},
		{"empty value", CSV, "User.UserId\n\"\"\nu1\n", []string{"2! User.UserId: missing: each line of a user-ID file lists user IDs, separated by spaces", "3: u1"}},
		{"control character", CSV, "User.UserId\n\"a\x01\"\n", []string{"2! User.UserId: value holds the control character U+0001; only tab, LF and CR are allowed"}},
		{"another column makes endpoint rows", CSV, "User.UserId,Id\nu1,\n", []string{"2! Id: missing: a new endpoint needs Address and ChannelType, an update needs Id"}},
		{"guide json", JSON, `{"User":{"UserId":"example-user-id-1"}}` + "\n" + `{"User.UserId":"u2"}` + "\n", []string{"1: example-user-id-1", "2: u2"}},
		{"json ids are not split", JSON, `{"User":{"UserId":"a b"}}` + "\n", []string{"1: a b"}},
		{"json with another attribute is an endpoint", JSON, `{"User":{"UserId":"u"},"Location":{"Country":"US"}}` + "\n", []string{"1! Id: missing: a new endpoint needs Address and ChannelType, an update needs Id"}},
		// A user ID is a DynamoDB sort key (1,024 bytes at most): a longer one
		// fails its own row, never the write batch of its neighbours.
		{"csv user id too long", CSV, "User.UserId\nu1 " + strings.Repeat("x", 1025) + "\nu2\n",
			[]string{"2! User.UserId: user ID 2: value is 1025 bytes, the most a user ID may take is 1024", "3: u2"}},
		{"csv user id at the limit", CSV, "User.UserId\n" + strings.Repeat("x", 1024) + "\n", []string{"2: " + strings.Repeat("x", 1024)}},
		{"json user id too long", JSON, `{"User":{"UserId":"` + strings.Repeat("y", 2000) + `"}}` + "\n" + `{"User":{"UserId":"u"}}` + "\n",
			[]string{"1! User.UserId: value is 2000 bytes, the most a user ID may take is 1024", "2: u"}},
		{"endpoint's user id too long", JSON, `{"ChannelType":"SMS","Address":"2065550182","User":{"UserId":"` + strings.Repeat("z", 1500) + `"}}` + "\n",
			[]string{"1! User.UserId: value is 1500 bytes, the most a user ID may take is 1024"}},
		{"json endpoint and user id mixed", JSON, `{"ChannelType":"SMS","Address":"2065550182","User":{"UserId":"u"}}` + "\n" + `{"User":{"UserId":"u"}}` + "\n",
			[]string{"1: endpoint", "2: u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := New(tt.format, strings.NewReader(tt.input), Options{})
			var got []string
			for {
				row, err := dec.Decode()
				if err == io.EOF {
					break
				}
				var re *RowError
				switch {
				case errors.As(err, &re):
					got = append(got, itoa(re.Line)+"! "+re.Field+": "+re.Msg)
				case err != nil:
					t.Fatal(err)
				case row.Endpoint != nil:
					got = append(got, itoa(row.Line)+": endpoint")
				default:
					got = append(got, itoa(row.Line)+": "+strings.Join(row.UserIds, ","))
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		if n /= 10; n == 0 {
			return s
		}
	}
}
