// Package segment holds the imported segment's model, shaped like Pinpoint's
// SegmentResponse. It does no I/O.
package segment

// Segment is an imported segment: an unchanging set of endpoints that grows with
// every import into it.
type Segment struct {
	Id               string           `json:"Id"`
	Name             string           `json:"Name"`
	SegmentType      string           `json:"SegmentType"`
	Version          int              `json:"Version"`
	CreationDate     string           `json:"CreationDate"`
	LastModifiedDate string           `json:"LastModifiedDate,omitempty"`
	ImportDefinition ImportDefinition `json:"ImportDefinition"`
	EndpointCount    int              `json:"EndpointCount"`
	// UserCount is the number of users the segment's user-ID definitions
	// named (a segment of users, or with users); absent for a segment of
	// endpoints only. Such a segment reaches every endpoint of its users,
	// those imported later included: its EndpointCount counts them, read
	// when the segment is read.
	UserCount int  `json:"UserCount,omitempty"`
	Shards    int  `json:"-"`
	HasUsers  bool `json:"-"` // user-ID definitions were imported into it
}

// ImportDefinition describes what was imported into the segment: Size and
// ChannelCounts add up every import; Format and S3Url are those of the latest.
type ImportDefinition struct {
	Size          int            `json:"Size"`
	ChannelCounts map[string]int `json:"ChannelCounts"`
	Format        string         `json:"Format,omitempty"`
	S3Url         string         `json:"S3Url,omitempty"`
}
