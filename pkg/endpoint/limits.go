package endpoint

import "strconv"

// Limits are the spec's per-endpoint and per-deployment limits. A zero field means
// the spec's default (see WithDefaults); start from DefaultLimits to change one.
type Limits struct {
	AttributesPerEndpoint int // custom names per endpoint, in each family
	CustomAttributeNames  int // distinct custom names across the deployment
	NameLength            int // characters in a custom attribute name
	ValueLength           int // characters in one custom attribute value
	ValuesPerAttribute    int // values in one Attributes.* or User.UserAttributes.* list
	EndpointBytes         int // an endpoint's size, names and values in UTF-8 bytes

	// AttributeBytes bounds one attribute, in UTF-8 bytes: a custom attribute's
	// name and values, or a standard attribute's value. A stored endpoint or user
	// gathers the attributes of many rows (absent attributes keep their values),
	// so EndpointBytes alone does not bound it; this does: every attribute an
	// item can hold, at most standardAttributes and CustomAttributeNames of
	// them, fits itemBudget, below DynamoDB's 400 KB item limit. Zero derives it
	// so (5,888 bytes with the spec's 40 names); more names leave fewer bytes
	// to each.
	AttributeBytes int

	// Country is the form Location.Country is stored in (the CountryCodes
	// template parameter). It is not a limit, but it travels with them: it is
	// the one other deployment setting validation needs.
	Country CountryForm
}

// DynamoDB refuses an item over 400 KB. itemBudget is what the attributes of a
// stored endpoint or user may take of it; the rest is left to keys, stamps
// and the encoding's overhead. standardAttributes is how many attributes that
// are not custom an Endpoints item holds (User.UserId twice, see internal/dynamo).
const (
	itemBudget         = 368 * 1024
	standardAttributes = 24
)

// UserIdBytes is the most UTF-8 bytes a User.UserId may take. A user ID is a
// sort key in the Members table (a segment of users lists its users there),
// and DynamoDB refuses a sort key over 1,024 bytes: a longer one would fail
// the whole write batch, so it fails its row at validation instead. (An Id
// may take 128 bytes, see checkId.)
const UserIdBytes = 1024

// CheckUserId returns why v cannot be a User.UserId, or "".
func CheckUserId(v string) string {
	if len(v) <= UserIdBytes {
		return ""
	}
	return "value is " + strconv.Itoa(len(v)) + " bytes, the most a user ID may take is " + strconv.Itoa(UserIdBytes)
}

// DefaultLimits returns the limits the spec gives.
func DefaultLimits() Limits {
	return Limits{
		AttributesPerEndpoint: 20,
		CustomAttributeNames:  40,
		NameLength:            50,
		ValueLength:           100,
		ValuesPerAttribute:    50,
		EndpointBytes:         15 * 1024,
	}
}

// WithDefaults returns l with every zero (or negative) field set to its default, so
// that a caller may configure one limit and keep the spec's values for the others.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&l.AttributesPerEndpoint, d.AttributesPerEndpoint},
		{&l.CustomAttributeNames, d.CustomAttributeNames},
		{&l.NameLength, d.NameLength},
		{&l.ValueLength, d.ValueLength},
		{&l.ValuesPerAttribute, d.ValuesPerAttribute},
		{&l.EndpointBytes, d.EndpointBytes},
	} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	if l.AttributeBytes <= 0 {
		l.AttributeBytes = itemBudget / (standardAttributes + l.CustomAttributeNames)
	}
	return l
}
