// Package segment holds the imported segment's model, shaped like Pinpoint's
// SegmentResponse. It does no I/O.
package segment

// Segment is an imported segment. Every import into it makes a new version;
// Version is the current one: the latest that COMPLETED among the versions
// that, with every version before them, have ended.
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
	// LastReplace is the version of the latest replacing import started
	// into it (0: none): the generation its latest versions belong to.
	LastReplace int  `json:"-"`
	Erased      bool `json:"-"` // a delete has taken members out of it
}

// ImportDefinition describes what was imported. On a segment, Size and
// ChannelCounts add up every import and Format and S3Url are those of the
// latest; on a version, they are that version's import alone.
type ImportDefinition struct {
	Size          int            `json:"Size"`
	ChannelCounts map[string]int `json:"ChannelCounts"`
	Format        string         `json:"Format,omitempty"`
	S3Url         string         `json:"S3Url,omitempty"`
}

// Version is one version of a segment: what one import job made of it.
// Versions are numbered from 1 in the order their jobs started (a number is
// reserved when a job starts, so a job that fails after starting leaves a
// FAILED version). The members of version N are the segment's members that a
// version up to N added first.
type Version struct {
	SegmentId string `json:"Id"`
	Name      string `json:"Name"`
	Version   int    `json:"Version"`
	JobId     string `json:"JobId"`
	// JobStatus is PROCESSING until the job ends, then COMPLETED or FAILED.
	JobStatus        string           `json:"JobStatus"`
	CreationDate     string           `json:"CreationDate"`
	CompletionDate   string           `json:"CompletionDate,omitempty"`
	ImportDefinition ImportDefinition `json:"ImportDefinition"`
	// EndpointCount is the number of the version's members, known once it
	// and every version before it have ended (nil until then).
	EndpointCount *int `json:"EndpointCount,omitempty"`
	// UserCount is the number of the version's users, for a segment of
	// users (user-ID definitions), whose EndpointCount then counts the
	// endpoints they reach too.
	UserCount int `json:"UserCount,omitempty"`
	// Current reports whether this is the segment's current version.
	Current bool `json:"Current"`
	// Replace reports whether the version's import replaced the segment:
	// the version is exactly that import's endpoints (else it appended to
	// the version before it).
	Replace bool `json:"Replace,omitempty"`
	// Base is the version's generation (MemberSet): the number of the latest
	// replace up to it, 0 if there was none.
	Base int `json:"Base,omitempty"`
	// Pruned reports that the version's members are no longer kept (its
	// generation is older than the segment's retention): its record stays.
	Pruned bool `json:"Pruned,omitempty"`
}
