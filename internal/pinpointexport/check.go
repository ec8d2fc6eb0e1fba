package pinpointexport

import (
	"errors"
	"io"
	"maps"
	"slices"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/pkg/endpoint"
)

// MaxCheckFailures is how many failed rows a Check lists; it counts them all.
const MaxCheckFailures = 1000

// Check is the dry run of a migration (`segport migrate-check`): what an export
// holds and what importing it would convert, ignore and fail. Add files with
// Read; the zero value is ready. It keeps every endpoint Id and user id it meets,
// to count distinct ones.
type Check struct {
	Files   int `json:"Files"`
	Gzipped int `json:"Gzipped"` // files that were gzip-compressed
	Rows    int `json:"Rows"`    // records read, valid or not

	Endpoints         int            `json:"Endpoints"`         // rows that would import
	DistinctEndpoints int            `json:"DistinctEndpoints"` // distinct Ids among them: the segment's size
	Users             int            `json:"Users"`             // distinct User.UserId
	Channels          map[string]int `json:"Channels"`          // endpoints per ChannelType ("" when not given)
	EndpointStatus    map[string]int `json:"EndpointStatus"`    // endpoints per status ("" when not given)
	OptOut            map[string]int `json:"OptOut"`            // endpoints per OptOut ("" when not given)
	WithoutAddress    int            `json:"WithoutAddress"`    // endpoints the export gives no Address
	// CustomAttributes lists the custom attribute names the export uses, as
	// Attributes.x, Metrics.y, User.UserAttributes.z: the deployment's
	// MaxCustomAttributeNames must leave room for them.
	CustomAttributes []string `json:"CustomAttributes"`

	Converted map[string]int `json:"Converted"` // see Counts
	Ignored   map[string]int `json:"Ignored"`
	Kept      map[string]int `json:"Kept"`

	Failed     int         `json:"Failed"`   // rows that would fail
	Failures   []Failure   `json:"Failures"` // the first MaxCheckFailures of them
	FileErrors []FileError `json:"FileErrors"`

	ids, users, names map[string]bool
}

// Failure is one row that would fail.
type Failure struct {
	File    string `json:"File"`
	Line    int    `json:"Line"`
	Field   string `json:"Field"`
	Message string `json:"Message"`
}

// FileError is a file that could not be read to its end.
type FileError struct {
	File    string `json:"File"`
	Line    int    `json:"Line,omitempty"`
	Message string `json:"Message"`
}

// Read adds one export object, read whole from r. A file-level problem is
// recorded in FileErrors (the rows before it count); other errors (a failed
// read) are returned.
func (c *Check) Read(name string, r io.Reader, limits endpoint.Limits) error {
	if c.ids == nil {
		c.ids, c.users, c.names = map[string]bool{}, map[string]bool{}, map[string]bool{}
		c.Channels, c.EndpointStatus, c.OptOut = map[string]int{}, map[string]int{}, map[string]int{}
		c.Failures, c.FileErrors = []Failure{}, []FileError{}
	}
	c.Files++
	d := NewDecoder(r, decode.Options{File: name, Limits: limits})
	err := c.read(d)
	if d.Gzipped() {
		c.Gzipped++
	}
	counts := Counts{Converted: c.Converted, Ignored: c.Ignored, Kept: c.Kept}
	counts.Merge(d.Counts())
	c.Converted, c.Ignored, c.Kept = counts.Converted, counts.Ignored, counts.Kept
	c.CustomAttributes = slices.Sorted(maps.Keys(c.names))
	return err
}

func (c *Check) read(d *Decoder) error {
	for {
		row, err := d.Decode()
		var re *decode.RowError
		var fe *decode.FileError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &re):
			c.Rows++
			c.Failed++
			if len(c.Failures) < MaxCheckFailures {
				c.Failures = append(c.Failures, Failure{File: re.File, Line: re.Line, Field: re.Field, Message: re.Msg})
			}
		case errors.As(err, &fe):
			c.FileErrors = append(c.FileErrors, FileError{File: fe.File, Line: fe.Line, Message: fe.Error()})
			return nil
		case err != nil:
			return err
		default:
			c.Rows++
			c.add(row.Endpoint)
		}
	}
}

func (c *Check) add(e *endpoint.Endpoint) {
	c.Endpoints++
	if !c.ids[e.Id] {
		c.ids[e.Id] = true
		c.DistinctEndpoints++
	}
	if e.User != nil && e.User.UserId != "" && !c.users[e.User.UserId] {
		c.users[e.User.UserId] = true
		c.Users++
	}
	c.Channels[e.ChannelType]++
	c.EndpointStatus[e.EndpointStatus]++
	c.OptOut[e.OptOut]++
	if e.Address == "" {
		c.WithoutAddress++
	}
	for n := range e.CustomNames() {
		c.names[n] = true
	}
}
