package endpoint

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
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

	e    *Endpoint
	p    *parts
	err  *FieldError
	size int // e.Size(), kept up to date as values are set

	// vals backs the value lists of custom attributes, shared by many endpoints:
	// each list is a capped window of it, so appending to one never writes into
	// another. last is the list that ends where vals ends, which can grow in place.
	vals      []string
	last      Attr
	lastStart int

	zones map[string]bool // valid time zones seen
}

// parts holds an endpoint and the objects it may point to, allocated together:
// one allocation per endpoint instead of up to six.
type parts struct {
	e         Endpoint
	loc       Location
	demo      Demographic
	user      User
	lat, long float64
}

// NewBuilder returns a Builder that enforces limits; a zero field of limits means
// the spec's default.
func NewBuilder(limits Limits) *Builder {
	b := &Builder{Limits: limits.WithDefaults()}
	b.Reset()
	return b
}

// Reset starts a new endpoint.
func (b *Builder) Reset() {
	b.p = new(parts)
	b.e = &b.p.e
	b.err = nil
	b.size = 0
	b.last = Attr{}
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
	v = strings.TrimSpace(v)
	if v == "" || b.err != nil {
		return
	}
	if !b.UTF8Checked && !utf8.ValidString(v) {
		b.Fail(a.Name(), "value is not valid UTF-8")
		return
	}
	switch a.Kind {
	case KindAttribute, KindUserAttribute, KindMetric:
		b.setCustom(a, v)
	case KindLatitude, KindLongitude:
		b.setCoordinate(a, v)
	default:
		b.setString(a, v)
	}
}

func (b *Builder) setString(a Attr, v string) {
	e := b.e
	var dst *string
	switch a.Kind {
	case KindId:
		if msg := checkId(v); msg != "" {
			b.Fail(a.Name(), msg)
			return
		}
		dst = &e.Id
	case KindChannelType:
		v = b.enum(a, v, Channels)
		dst = &e.ChannelType
	case KindAddress:
		dst = &e.Address
	case KindEndpointStatus:
		v = b.enum(a, v, []string{"ACTIVE", "INACTIVE"})
		dst = &e.EndpointStatus
	case KindOptOut:
		v = b.enum(a, v, []string{"ALL", "NONE"})
		dst = &e.OptOut
	case KindEffectiveDate:
		d, ok := normalizeDate(v)
		if !ok {
			b.Fail(a.Name(), "not an ISO 8601 date-time (for example 20171011T150548Z or 2017-10-11T15:05:48Z)")
			return
		}
		v = d
		dst = &e.EffectiveDate
	case KindRequestId:
		dst = &e.RequestId
	case KindUserId:
		dst = &b.user().UserId
	case KindCountry:
		c, msg := NormalizeCountry(v)
		if msg != "" {
			b.Fail(a.Name(), msg)
			return
		}
		v = c
		dst = &b.location().Country
	case KindTimezone:
		if !b.validTimezone(v) {
			b.Fail(a.Name(), strconv.Quote(v)+" is not a tz database time zone (for example America/Los_Angeles)")
			return
		}
		dst = &b.demographic().Timezone
	case KindLocale:
		l, ok := normalizeLocale(v)
		if !ok {
			b.Fail(a.Name(), strconv.Quote(v)+" is not an ISO 15897 locale (for example en_US)")
			return
		}
		v = l
		dst = &b.demographic().Locale
	default:
		dst = b.stringField(a.Kind)
	}
	if b.err != nil || dst == nil {
		return
	}
	if *dst != "" {
		b.Fail(a.Name(), "given more than once")
		return
	}
	*dst = v
	b.size += len(v)
}

// stringField returns the plain free-text fields of Location and Demographic.
func (b *Builder) stringField(k Kind) *string {
	switch k {
	case KindCity:
		return &b.location().City
	case KindPostalCode:
		return &b.location().PostalCode
	case KindRegion:
		return &b.location().Region
	case KindAppVersion:
		return &b.demographic().AppVersion
	case KindMake:
		return &b.demographic().Make
	case KindModel:
		return &b.demographic().Model
	case KindModelVersion:
		return &b.demographic().ModelVersion
	case KindPlatform:
		return &b.demographic().Platform
	case KindPlatformVersion:
		return &b.demographic().PlatformVersion
	}
	return nil
}

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
	b.Fail(a.Name(), strconv.Quote(v)+" is not one of "+strings.Join(allowed, ", "))
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
		b.Fail(a.Name(), strconv.Quote(v)+" is not a number")
	case f < -limit || f > limit:
		b.Fail(a.Name(), v+" is out of range -"+strconv.Itoa(int(limit))+" to "+strconv.Itoa(int(limit)))
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

func (b *Builder) setCustom(a Attr, v string) {
	if msg := b.checkName(a.Custom); msg != "" {
		b.Fail(a.Name(), msg)
		return
	}
	if a.Kind == KindMetric {
		b.setMetric(a, v)
		return
	}
	if n := utf8.RuneCountInString(v); n > b.Limits.ValueLength {
		b.Fail(a.Name(), "value has "+strconv.Itoa(n)+" characters, the limit is "+strconv.Itoa(b.Limits.ValueLength))
		return
	}
	m := &b.e.Attributes
	if a.Kind == KindUserAttribute {
		m = &b.user().UserAttributes
	}
	if *m == nil {
		*m = make(map[string][]string, 4)
	}
	vals, seen := (*m)[a.Custom]
	if !seen && len(*m) >= b.Limits.AttributesPerEndpoint {
		b.Fail(a.Name(), "more than "+strconv.Itoa(b.Limits.AttributesPerEndpoint)+" custom attributes in "+familyName(a.Kind))
		return
	}
	if len(vals) >= b.Limits.ValuesPerAttribute {
		b.Fail(a.Name(), "more than "+strconv.Itoa(b.Limits.ValuesPerAttribute)+" values")
		return
	}
	(*m)[a.Custom] = b.appendValue(a, vals, v)
	if !seen {
		b.size += len(a.Custom)
	}
	b.size += len(v)
}

// appendValue appends v to the list vals of attribute a, taking the room from
// b.vals: a new list, or the latest list growing in place, costs no allocation
// of its own.
func (b *Builder) appendValue(a Attr, vals []string, v string) []string {
	grow := len(vals) > 0 && a == b.last
	if len(vals) > 0 && !grow {
		return append(vals, v) // an older list: copied, as append does
	}
	if len(b.vals) == cap(b.vals) {
		if grow {
			return append(vals, v)
		}
		b.vals = make([]string, 0, 64)
	}
	if !grow {
		b.last, b.lastStart = a, len(b.vals)
	}
	b.vals = append(b.vals, v)
	return b.vals[b.lastStart:len(b.vals):len(b.vals)]
}

func (b *Builder) setMetric(a Attr, v string) {
	f, ok := parseFinite(v)
	if !ok {
		b.Fail(a.Name(), strconv.Quote(v)+" is not a finite number")
		return
	}
	if b.e.Metrics == nil {
		b.e.Metrics = make(map[string]float64, 4)
	}
	if _, dup := b.e.Metrics[a.Custom]; dup {
		b.Fail(a.Name(), "given more than once")
		return
	}
	if len(b.e.Metrics) >= b.Limits.AttributesPerEndpoint {
		b.Fail(a.Name(), "more than "+strconv.Itoa(b.Limits.AttributesPerEndpoint)+" custom attributes in Metrics")
		return
	}
	b.e.Metrics[a.Custom] = f
	b.size += len(a.Custom) + 8
}

func (b *Builder) checkName(name string) string {
	if len(name) <= b.Limits.NameLength && plainASCII(name) {
		return ""
	}
	if n := utf8.RuneCountInString(name); n > b.Limits.NameLength {
		return "name has " + strconv.Itoa(n) + " characters, the limit is " + strconv.Itoa(b.Limits.NameLength)
	}
	if strings.TrimSpace(name) != name || strings.ContainsFunc(name, isControl) {
		return "name has white space at its ends or control characters"
	}
	return ""
}

func familyName(k Kind) string {
	switch k {
	case KindMetric:
		return "Metrics"
	case KindUserAttribute:
		return "User.UserAttributes"
	}
	return "Attributes"
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

// Finish checks the endpoint as a whole, fills the derived Id of a new endpoint
// and returns it, or the first problem found.
func (b *Builder) Finish() (*Endpoint, *FieldError) {
	if b.err != nil {
		return nil, b.err
	}
	e := b.e
	if e.Address != "" && e.ChannelType != "" {
		addr, msg := NormalizeAddress(e.ChannelType, e.Address)
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
		e.Id = DerivedId(e.ChannelType, e.Address)
		b.size += len(e.Id)
	}
	if e.User != nil && len(e.User.UserAttributes) > 0 && e.User.UserId == "" {
		return nil, &FieldError{Field: "User.UserId", Msg: "missing: User.UserAttributes belong to a user, so a row that sets them needs User.UserId"}
	}
	if n := b.size; n > b.Limits.EndpointBytes {
		return nil, &FieldError{Msg: "endpoint is " + strconv.Itoa(n) + " bytes, the limit is " + strconv.Itoa(b.Limits.EndpointBytes)}
	}
	return e, nil
}

// parseFinite parses a finite decimal number. ParseFloat alone would also take
// "0x1p4", "1_000", "Inf" and "NaN", which are not numbers in an endpoint file.
func parseFinite(v string) (float64, bool) {
	if f, ok := parseShortDecimal(v); ok {
		return f, true
	}
	if !isDecimal(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// plainASCII reports whether s is printable ASCII without white space at its ends:
// a name that needs no closer look.
func plainASCII(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

func checkId(v string) string {
	if len(v) > 128 {
		return "longer than 128 bytes"
	}
	if strings.ContainsFunc(v, isControl) {
		return "contains control characters"
	}
	return ""
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseShortDecimal parses [+-]digits[.digits] of at most 15 digits without
// strconv: the digits and the power of ten are exact in a float64, so one
// division rounds as ParseFloat does. Anything else reports false.
func parseShortDecimal(v string) (float64, bool) {
	i, neg := 0, false
	if i < len(v) && (v[i] == '-' || v[i] == '+') {
		neg = v[i] == '-'
		i++
	}
	var mant uint64
	n, frac := 0, -1
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			n++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if n == 0 || n > 15 {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// validTimezone is ValidTimezone with a cache of the zones this Builder has seen,
// cheaper than the shared one.
func (b *Builder) validTimezone(name string) bool {
	if b.zones[name] {
		return true
	}
	if !ValidTimezone(name) {
		return false
	}
	if b.zones == nil || len(b.zones) >= 1024 {
		b.zones = make(map[string]bool)
	}
	b.zones[name] = true
	return true
}

// isDecimal reports whether v is [+-]digits[.digits][(e|E)[+-]digits], where either
// side of the point may be empty but not both.
func isDecimal(v string) bool {
	i := 0
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(v) && v[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(v)
}
