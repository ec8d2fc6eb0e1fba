// Package endpoint holds the Pinpoint endpoint model: its attributes, the rules an
// imported endpoint must satisfy and its canonical JSON form. It does no I/O.
package endpoint

import (
	"bytes"
	"slices"
)

// Endpoint is one endpoint definition in Pinpoint's JSON shape. Empty strings, nil
// pointers and empty custom families mean "not given".
type Endpoint struct {
	Id             string       `json:"Id,omitempty"`
	ChannelType    string       `json:"ChannelType,omitempty"`
	Address        string       `json:"Address,omitempty"`
	EndpointStatus string       `json:"EndpointStatus,omitempty"`
	OptOut         string       `json:"OptOut,omitempty"`
	EffectiveDate  string       `json:"EffectiveDate,omitempty"`
	CreationDate   string       `json:"CreationDate,omitempty"` // from a Pinpoint export only: see KindCreationDate
	RequestId      string       `json:"RequestId,omitempty"`
	Location       *Location    `json:"Location,omitempty"`
	Demographic    *Demographic `json:"Demographic,omitempty"`
	Attributes     Lists        `json:"Attributes,omitempty"`
	Metrics        Metrics      `json:"Metrics,omitempty"`
	User           *User        `json:"User,omitempty"`
}

// Location is the endpoint's Location object.
type Location struct {
	City       string   `json:"City,omitempty"`
	Country    string   `json:"Country,omitempty"`
	Latitude   *float64 `json:"Latitude,omitempty"`
	Longitude  *float64 `json:"Longitude,omitempty"`
	PostalCode string   `json:"PostalCode,omitempty"`
	Region     string   `json:"Region,omitempty"`
}

// Demographic is the endpoint's Demographic object.
type Demographic struct {
	AppVersion      string `json:"AppVersion,omitempty"`
	Locale          string `json:"Locale,omitempty"`
	Make            string `json:"Make,omitempty"`
	Model           string `json:"Model,omitempty"`
	ModelVersion    string `json:"ModelVersion,omitempty"`
	Platform        string `json:"Platform,omitempty"`
	PlatformVersion string `json:"PlatformVersion,omitempty"`
	Timezone        string `json:"Timezone,omitempty"`
}

// User is the endpoint's User object. UserAttributes belong to the user: every
// endpoint with the same UserId shares them.
type User struct {
	UserId         string `json:"UserId,omitempty"`
	UserAttributes Lists  `json:"UserAttributes,omitempty"`
}

// Channels is the set of channel types Pinpoint accepts. PUSH is the API's
// name for a push endpoint whose push service is not named (exports show it);
// it is kept as PUSH, with an address checked like any push token's.
var Channels = []string{
	"GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "ADM",
	"SMS", "VOICE", "EMAIL", "BAIDU", "CUSTOM", "IN_APP", "PUSH",
}

// MarshalCanonical returns the endpoint's canonical JSON: fields in the Pinpoint
// order, empty fields omitted, map keys sorted, no HTML escaping, no newline.
func (e *Endpoint) MarshalCanonical() ([]byte, error) {
	var buf bytes.Buffer
	if err := e.WriteCanonical(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteCanonical appends the canonical JSON of e to buf.
func (e *Endpoint) WriteCanonical(buf *bytes.Buffer) error {
	b, err := e.compact().AppendJSON(buf.AvailableBuffer(), false)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// compact drops empty nested objects so that omitempty leaves them out.
func (e *Endpoint) compact() *Endpoint {
	c := *e
	if c.Location != nil && *c.Location == (Location{}) {
		c.Location = nil
	}
	if c.Demographic != nil && *c.Demographic == (Demographic{}) {
		c.Demographic = nil
	}
	if c.User != nil && c.User.UserId == "" && len(c.User.UserAttributes) == 0 {
		c.User = nil
	}
	return &c
}

// Size is the endpoint's size as the EndpointBytes limit counts it: the UTF-8 bytes
// of its string values and custom attribute names, and 8 bytes for each number. It
// depends only on the normalised endpoint, so importing an endpoint's canonical form
// again gives the same size.
func (e *Endpoint) Size() int {
	n := len(e.Id) + len(e.ChannelType) + len(e.Address) + len(e.EndpointStatus) +
		len(e.OptOut) + len(e.EffectiveDate) + len(e.CreationDate) + len(e.RequestId)
	if l := e.Location; l != nil {
		n += len(l.City) + len(l.Country) + len(l.PostalCode) + len(l.Region)
		if l.Latitude != nil {
			n += 8
		}
		if l.Longitude != nil {
			n += 8
		}
	}
	if d := e.Demographic; d != nil {
		n += len(d.AppVersion) + len(d.Locale) + len(d.Make) + len(d.Model) +
			len(d.ModelVersion) + len(d.Platform) + len(d.PlatformVersion) + len(d.Timezone)
	}
	n += listsSize(e.Attributes)
	for _, m := range e.Metrics {
		n += len(m.Name) + 8
	}
	if u := e.User; u != nil {
		n += len(u.UserId) + listsSize(u.UserAttributes)
	}
	return n
}

func listsSize(lists Lists) int {
	n := 0
	for _, l := range lists {
		n += len(l.Name)
		for _, v := range l.Value {
			n += len(v)
		}
	}
	return n
}

// Clone returns a deep copy of e.
func (e *Endpoint) Clone() *Endpoint {
	c := *e
	if e.Location != nil {
		l := *e.Location
		if l.Latitude != nil {
			v := *l.Latitude
			l.Latitude = &v
		}
		if l.Longitude != nil {
			v := *l.Longitude
			l.Longitude = &v
		}
		c.Location = &l
	}
	if e.Demographic != nil {
		d := *e.Demographic
		c.Demographic = &d
	}
	c.Attributes = cloneLists(e.Attributes)
	c.Metrics = slices.Clone(e.Metrics)
	if e.User != nil {
		u := User{UserId: e.User.UserId, UserAttributes: cloneLists(e.User.UserAttributes)}
		c.User = &u
	}
	return &c
}

func cloneLists(lists Lists) Lists {
	c := slices.Clone(lists)
	for i := range c {
		c[i].Value = slices.Clone(c[i].Value)
	}
	return c
}
