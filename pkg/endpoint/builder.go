package endpoint

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/segport/segport/internal/arena"
)

// FieldError is a problem with one attribute of one endpoint definition.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Builder assembles one endpoint from attribute values, validating and normalising
// each as it is set. It keeps the first problem it meets; Finish reports it.
// A Builder is reused row after row with Reset.
type Builder struct {
	Limits Limits

	// UTF8Checked says the caller has checked that every value is valid UTF-8, as
	// the decoders do for whole records; Set then skips its own check.
	UTF8Checked bool

	// TextChecked says the caller has checked that the current row's values hold
	// only printable ASCII, tab, LF and CR, as the decoders do for whole records
	// when they can; Set then skips its check for characters SQS cannot carry
	// (see checkText). It is a property of one row: set it before each.
	TextChecked bool

	// Reuse lets Finish return the memory of the endpoint it returned before,
	// overwritten, as csv.Reader's ReuseRecord does for its records: for callers
	// done with an endpoint before they ask for the next, such as one encoding each
	// as it comes. Strings are never reused: they stay valid.
	Reuse bool

	// NoDerivedId is for callers that check rows but never read a derived Id,
	// such as `segport validate`: where Finish would derive an Id it leaves Id
	// empty, but counts the Id's 32 bytes toward the size limit all the same,
	// so that every row gets the same verdict. The SHA-256 it saves is about a
	// fifth of the cost of a narrow row.
	NoDerivedId bool

	// Arena holds the strings the Builder makes (normalised values, derived Ids),
	// shared with the endpoints it returns; decoders put the text of their rows
	// in it too. NewBuilder sets it; nil makes every string by itself.
	Arena *arena.Strings

	e         *Endpoint
	p         *parts
	handedOut bool // Finish returned b.e
	err       *FieldError
	size      int // e.Size(), kept up to date as values are set

	// The custom attributes of the current endpoint (see custom.go).
	customs  []custom
	values   []listValue
	families [3]int       // names given in Attributes, Metrics and User.UserAttributes
	index    map[Attr]int // b.customs by name, once a row has many names

	// Blocks shared by the custom attributes of many endpoints (see carve): the
	// value lists, and the entries of Attributes, User.UserAttributes and Metrics.
	vals        []string
	listBlock   []Named[[]string]
	metricBlock []Named[float64]
	partsBlock  []parts // the endpoints themselves

	goodNames [8]string  // custom attribute names checked last, all good
	nextName  int        // where the next goes in goodNames
	zones     [16]string // valid time zones seen, see validTimezone

	plan    *columnPlan // the columns of a file, once SetColumns has been called
	scratch []byte      // what derivedId hashes
}

// parts holds an endpoint and the objects it may point to, allocated together,
// partsPerBlock at a time.
type parts struct {
	e         Endpoint
	loc       Location
	demo      Demographic
	user      User
	lat, long float64
}

const partsPerBlock = 32

// NewBuilder returns a Builder that enforces limits; a zero field of limits means
// the spec's default.
func NewBuilder(limits Limits) *Builder {
	b := &Builder{Limits: limits.WithDefaults(), Arena: new(arena.Strings)}
	b.Reset()
	return b
}

// Reset starts a new endpoint.
func (b *Builder) Reset() {
	switch {
	case b.Reuse && b.p != nil:
		*b.p = parts{}
		b.vals, b.listBlock, b.metricBlock = b.vals[:0], b.listBlock[:0], b.metricBlock[:0]
	case b.p != nil && !b.handedOut:
		*b.p = parts{} // Finish never returned it: use it again
	default:
		b.p = &carve(&b.partsBlock, 1, partsPerBlock)[0]
	}
	if b.plan != nil {
		b.plan.resetRow(!b.handedOut && !b.Reuse)
	}
	b.handedOut = false
	b.e = &b.p.e
	b.err = nil
	b.size = 0
	b.resetCustoms()
}

// Failed reports whether a problem has been recorded for the current endpoint.
func (b *Builder) Failed() bool { return b.err != nil }

// Fail records a problem unless one is already recorded.
func (b *Builder) Fail(field, msg string) {
	if b.err == nil {
		b.err = &FieldError{Field: field, Msg: msg}
	}
}

// Set gives attribute a the textual value v. Surrounding white space is trimmed and
// an empty value means "not given". For multi-value attributes Set adds a value.
func (b *Builder) Set(a Attr, v string) {
	if v = b.prepare(a, v); v != "" {
		b.set(a, v)
	}
}

// set is Set for a prepared value.
func (b *Builder) set(a Attr, v string) {
	e := b.e
	switch a.Kind { // one switch, for all attributes: a row sets many
	case KindAttribute, KindUserAttribute, KindMetric:
		b.setCustom(a, v)
	case KindLatitude, KindLongitude:
		b.setCoordinate(a, v)
	case KindId:
		if msg := checkId(v); msg != "" {
			b.Fail(a.Name(), msg)
			return
		}
		b.put(a, &e.Id, v)
	case KindChannelType:
		if c := exactChannel(v); c != "" {
			b.put(a, &e.ChannelType, c)
		} else {
			b.put(a, &e.ChannelType, b.enum(a, v, Channels))
		}
	case KindAddress:
		b.put(a, &e.Address, v)
	case KindEndpointStatus:
		b.put(a, &e.EndpointStatus, b.enum(a, v, statuses))
	case KindOptOut:
		b.put(a, &e.OptOut, b.enum(a, v, optOuts))
	case KindEffectiveDate, KindCreationDate:
		d, ok := normalizeDate(v, b.Arena)
		if !ok {
			b.Fail(a.Name(), "not an ISO 8601 date-time (for example 20171011T150548Z or 2017-10-11T15:05:48Z)")
			return
		}
		b.put(a, e.str(a.Kind), d)
	case KindRequestId:
		b.put(a, &e.RequestId, v)
	case KindUserId:
		b.put(a, &b.user().UserId, v)
	case KindCountry:
		c, msg := NormalizeCountry(v, b.Limits.Country)
		if msg != "" {
			b.Fail(a.Name(), msg)
			return
		}
		b.put(a, &b.location().Country, c)
	case KindTimezone:
		if !b.validTimezone(v) {
			b.Fail(a.Name(), "not a tz database time zone (for example America/Los_Angeles)")
			return
		}
		b.put(a, &b.demographic().Timezone, v)
	case KindLocale:
		l, ok := normalizeLocale(v)
		if !ok {
			b.Fail(a.Name(), "not an ISO 15897 locale (for example en_US)")
			return
		}
		b.put(a, &b.demographic().Locale, l)
	case KindCity:
		b.put(a, &b.location().City, v)
	case KindPostalCode:
		b.put(a, &b.location().PostalCode, v)
	case KindRegion:
		b.put(a, &b.location().Region, v)
	case KindAppVersion:
		b.put(a, &b.demographic().AppVersion, v)
	case KindMake:
		b.put(a, &b.demographic().Make, v)
	case KindModel:
		b.put(a, &b.demographic().Model, v)
	case KindModelVersion:
		b.put(a, &b.demographic().ModelVersion, v)
	case KindPlatform:
		b.put(a, &b.demographic().Platform, v)
	case KindPlatformVersion:
		b.put(a, &b.demographic().PlatformVersion, v)
	}
}

// prepare returns v trimmed, or "" when there is nothing to set: v is empty, it
// is not UTF-8 (a problem it records) or a problem is recorded already.
func (b *Builder) prepare(a Attr, v string) string {
	if v == "" || b.err != nil {
		return ""
	}
	if !b.UTF8Checked || !b.TextChecked || !trimmed(v) { // most values need none
		return b.trimAndCheck(a, v)
	}
	return v
}

// trimmed reports whether v, not empty, has no white space to trim at its ends:
// whether it begins and ends with a printable ASCII character other than the
// space, or DEL (a control character TrimSpace keeps).
func trimmed(v string) bool { return v[0]-'!' <= 0x7F-'!' && v[len(v)-1]-'!' <= 0x7F-'!' }

// trimAndCheck is prepare's slow path: white space to trim, or UTF-8 or
// characters to check.
func (b *Builder) trimAndCheck(a Attr, v string) string {
	if !trimmed(v) {
		v = strings.TrimSpace(v)
	}
	if !b.UTF8Checked && !utf8.ValidString(v) {
		b.Fail(a.Name(), "value is not valid UTF-8")
		return ""
	}
	if !b.TextChecked {
		if msg := checkText(v); msg != "" {
			b.Fail(a.Name(), "value "+msg)
			return ""
		}
	}
	return v
}

// put stores v in the string field dst, unless a problem is recorded (by the
// check that gave v, for one) or the field is set already.
func (b *Builder) put(a Attr, dst *string, v string) {
	switch {
	case b.err != nil:
	case *dst != "":
		b.Fail(a.Name(), "given more than once")
	case len(v) > b.Limits.AttributeBytes:
		b.Fail(a.Name(), "value is "+strconv.Itoa(len(v))+" bytes, the most one attribute may take is "+strconv.Itoa(b.Limits.AttributeBytes))
	default:
		*dst = v
		b.size += len(v)
	}
}

// exactChannel returns v if it is one of Channels as spelled there, else "": a
// switch finds it faster than a loop over Channels.
func exactChannel(v string) string {
	switch v {
	case "GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "ADM", "SMS", "VOICE", "EMAIL", "BAIDU", "CUSTOM", "IN_APP", "PUSH":
		return v
	}
	return ""
}

var statuses, optOuts = []string{"ACTIVE", "INACTIVE"}, []string{"ALL", "NONE"}

// enum accepts v in any letter case and returns its canonical spelling.
func (b *Builder) enum(a Attr, v string, allowed []string) string {
	for _, s := range allowed {
		if v == s {
			return s
		}
	}
	for _, s := range allowed {
		if strings.EqualFold(v, s) {
			return s
		}
	}
	b.Fail(a.Name(), "not one of "+strings.Join(allowed, ", "))
	return v
}

func (b *Builder) setCoordinate(a Attr, v string) {
	f, ok := parseFinite(v)
	limit := 90.0
	dst, val := &b.location().Latitude, &b.p.lat
	if a.Kind == KindLongitude {
		limit = 180
		dst, val = &b.location().Longitude, &b.p.long
	}
	switch {
	case !ok:
		b.Fail(a.Name(), "not a number")
	case f < -limit || f > limit:
		b.Fail(a.Name(), "out of range -"+strconv.Itoa(int(limit))+" to "+strconv.Itoa(int(limit)))
	case *dst != nil:
		b.Fail(a.Name(), "given more than once")
	default:
		*val = math.Round(f*10) / 10
		if *val == 0 {
			*val = 0 // no negative zero
		}
		*dst = val
		b.size += 8
	}
}

func (b *Builder) location() *Location {
	if b.e.Location == nil {
		b.e.Location = &b.p.loc
	}
	return b.e.Location
}

func (b *Builder) demographic() *Demographic {
	if b.e.Demographic == nil {
		b.e.Demographic = &b.p.demo
	}
	return b.e.Demographic
}

func (b *Builder) user() *User {
	if b.e.User == nil {
		b.e.User = &b.p.user
	}
	return b.e.User
}

// UserIdOnly returns the current row's User.UserId when the row gives it and no
// other attribute, and has no problem: a user-ID definition, not an endpoint.
func (b *Builder) UserIdOnly() (string, bool) {
	e := b.e
	if b.err != nil || e.User == nil || e.User.UserId == "" {
		return "", false
	}
	return e.User.UserId, b.size == len(e.User.UserId) && b.families == [3]int{}
}

// Finish checks the endpoint as a whole, fills the derived Id of a new endpoint
// and returns it, or the first problem found.
func (b *Builder) Finish() (*Endpoint, *FieldError) {
	if b.err != nil {
		return nil, b.err
	}
	e := b.e
	if e.Address != "" && e.ChannelType != "" {
		addr, msg := normalizeAddress(e.ChannelType, e.Address, b.Arena)
		if msg != "" {
			return nil, &FieldError{Field: "Address", Msg: msg}
		}
		b.size += len(addr) - len(e.Address)
		e.Address = addr
	}
	if e.Id == "" {
		switch {
		case e.ChannelType == "" && e.Address == "":
			return nil, &FieldError{Field: "Id", Msg: "missing: a new endpoint needs Address and ChannelType, an update needs Id"}
		case e.ChannelType == "":
			return nil, &FieldError{Field: "ChannelType", Msg: "missing: a new endpoint needs Address and ChannelType"}
		case e.Address == "":
			return nil, &FieldError{Field: "Address", Msg: "missing: a new endpoint needs Address and ChannelType"}
		}
		if b.NoDerivedId {
			b.size += derivedIdLen
		} else {
			e.Id = derivedId(e.ChannelType, e.Address, b.Arena, &b.scratch)
			b.size += len(e.Id)
		}
	}
	if e.User != nil {
		if msg := CheckUserId(e.User.UserId); msg != "" {
			return nil, &FieldError{Field: "User.UserId", Msg: msg}
		}
	}
	if b.families[family(KindUserAttribute)] > 0 && (e.User == nil || e.User.UserId == "") {
		return nil, &FieldError{Field: "User.UserId", Msg: "missing: User.UserAttributes belong to a user, so a row that sets them needs User.UserId"}
	}
	if n := b.size; n > b.Limits.EndpointBytes {
		return nil, &FieldError{Msg: "endpoint is " + strconv.Itoa(n) + " bytes, the limit is " + strconv.Itoa(b.Limits.EndpointBytes)}
	}
	if b.plan != nil {
		b.putSlots()
	} else {
		b.putCustoms()
	}
	b.handedOut = true
	return e, nil
}

// validTimezone is ValidTimezone with a cache of valid zones this Builder has
// seen, a zone to a slot chosen by its length and last byte: a file's rows use
// few zones, and comparing one string costs less than hashing it.
func (b *Builder) validTimezone(name string) bool {
	slot := &b.zones[(len(name)+int(name[len(name)-1]))%len(b.zones)] // name is not empty
	if *slot == name {
		return true
	}
	if !ValidTimezone(name) {
		return false
	}
	*slot = name
	return true
}
