package endpoint

import (
	"strings"
)

// Kind identifies one attribute of the spec's "Available Attributes" table.
type Kind uint8

// The attributes, in canonical order. Attribute, Metric and UserAttribute are the
// three custom families; an Attr of those kinds carries the custom name.
const (
	KindInvalid Kind = iota
	KindId
	KindChannelType
	KindAddress
	KindEndpointStatus
	KindOptOut
	KindEffectiveDate
	KindRequestId
	KindCity
	KindCountry
	KindLatitude
	KindLongitude
	KindPostalCode
	KindRegion
	KindAppVersion
	KindLocale
	KindMake
	KindModel
	KindModelVersion
	KindPlatform
	KindPlatformVersion
	KindTimezone
	KindUserId
	KindAttribute
	KindMetric
	KindUserAttribute
	// KindCreationDate is the endpoint's creation date. It is not an import
	// attribute (Lookup does not know it): only a Pinpoint export gives it (see
	// internal/pinpointexport), and it is stored, merged and shown like EffectiveDate.
	KindCreationDate
)

// Family prefixes of the custom attributes, as they appear in dotted names.
const (
	PrefixAttributes     = "Attributes."
	PrefixMetrics        = "Metrics."
	PrefixUserAttributes = "User.UserAttributes."
)

var fixedNames = map[string]Kind{
	"Id":                          KindId,
	"ChannelType":                 KindChannelType,
	"Address":                     KindAddress,
	"EndpointStatus":              KindEndpointStatus,
	"OptOut":                      KindOptOut,
	"EffectiveDate":               KindEffectiveDate,
	"RequestId":                   KindRequestId,
	"Location.City":               KindCity,
	"Location.Country":            KindCountry,
	"Location.Latitude":           KindLatitude,
	"Location.Longitude":          KindLongitude,
	"Location.PostalCode":         KindPostalCode,
	"Location.Region":             KindRegion,
	"Demographic.AppVersion":      KindAppVersion,
	"Demographic.Locale":          KindLocale,
	"Demographic.Make":            KindMake,
	"Demographic.Model":           KindModel,
	"Demographic.ModelVersion":    KindModelVersion,
	"Demographic.Platform":        KindPlatform,
	"Demographic.PlatformVersion": KindPlatformVersion,
	"Demographic.Timezone":        KindTimezone,
	"User.UserId":                 KindUserId,
}

var kindNames = func() map[Kind]string {
	m := make(map[Kind]string, len(fixedNames))
	for name, k := range fixedNames {
		m[k] = name
	}
	return m
}()

var families = []struct {
	prefix string
	kind   Kind
}{
	{PrefixUserAttributes, KindUserAttribute},
	{PrefixAttributes, KindAttribute},
	{PrefixMetrics, KindMetric},
}

// Attr is a resolved attribute name: a fixed attribute, or a custom one with its name.
type Attr struct {
	Kind   Kind
	Custom string
}

// Name returns the dotted attribute name, as in a CSV header.
func (a Attr) Name() string {
	switch a.Kind {
	case KindAttribute:
		return PrefixAttributes + a.Custom
	case KindMetric:
		return PrefixMetrics + a.Custom
	case KindUserAttribute:
		return PrefixUserAttributes + a.Custom
	case KindCreationDate:
		return "CreationDate"
	}
	return kindNames[a.Kind]
}

// MultiValue reports whether a repeated CSV column adds a value to the attribute.
func (a Attr) MultiValue() bool {
	return a.Kind == KindAttribute || a.Kind == KindUserAttribute
}

// IsCustom reports whether the attribute is one of the three custom families.
func (a Attr) IsCustom() bool {
	return a.Kind == KindAttribute || a.Kind == KindMetric || a.Kind == KindUserAttribute
}

// UnknownAttributeError says a name is not an attribute, with a suggestion if one
// is close. A plain name (no dot) that is close to none is most likely meant as a
// custom attribute: the message names the three families it could go in.
type UnknownAttributeError struct {
	Name       string
	Suggestion string
}

// Hint is the suggestion without anything taken from the unknown name: a known
// attribute, or a family's prefix with "<name>" for a name that misspells the
// family ("Atributes.x": "Attributes.<name>"). A CSV header shows it, since a
// header cell may be a value of a file that has no header.
func (e *UnknownAttributeError) Hint() string {
	if e.Suggestion == "" {
		return ""
	}
	if _, ok := fixedNames[e.Suggestion]; ok {
		return e.Suggestion
	}
	for _, f := range families {
		if strings.HasPrefix(e.Suggestion, f.prefix) {
			return f.prefix + "<name>"
		}
	}
	return ""
}

// MaybeCustom reports whether the name is a plain one (no dot) close to no
// attribute: most likely meant as a custom attribute, so the message names the
// three families it could go in.
func (e *UnknownAttributeError) MaybeCustom() bool {
	n := e.Name
	return e.Suggestion == "" && n != "" && !strings.Contains(n, ".") && strings.TrimSpace(n) == n && !strings.ContainsFunc(n, isControl) && len(n) <= 200
}

// CustomNames says how custom attributes named name are written, in each family.
func CustomNames(name string) string {
	return "custom attributes are named " + PrefixAttributes + name + ", " + PrefixMetrics + name + " or " + PrefixUserAttributes + name
}

func (e *UnknownAttributeError) Error() string {
	if e.Suggestion != "" {
		return "did you mean " + e.Suggestion + "? (unknown attribute)"
	}
	if e.MaybeCustom() {
		return "unknown attribute; " + CustomNames(e.Name)
	}
	return "unknown attribute"
}

// Lookup resolves a dotted attribute name such as "Demographic.Make" or
// "Attributes.Interests".
func Lookup(name string) (Attr, error) {
	if k, ok := fixedNames[name]; ok {
		return Attr{Kind: k}, nil
	}
	for _, f := range families {
		if strings.HasPrefix(name, f.prefix) && len(name) > len(f.prefix) {
			return Attr{Kind: f.kind, Custom: name[len(f.prefix):]}, nil
		}
	}
	return Attr{}, &UnknownAttributeError{Name: name, Suggestion: suggest(name)}
}

// suggest returns the attribute name closest to an unknown one, or "".
func suggest(name string) string {
	best, bestDist := "", 3
	if len(name) > 200 {
		return "" // no attribute name is near, and the distance would cost len(name)²
	}
	for fixed := range fixedNames {
		if d := nameDistance(name, fixed); d < bestDist || (d == bestDist && fixed < best) {
			best, bestDist = fixed, d
		}
	}
	for _, f := range families {
		prefix := strings.TrimSuffix(f.prefix, ".")
		segs := strings.Count(prefix, ".") + 1
		parts := strings.SplitN(name, ".", segs+1)
		if len(parts) <= segs || parts[segs] == "" {
			continue
		}
		head := strings.Join(parts[:segs], ".")
		if d := nameDistance(head, prefix); d < bestDist {
			best, bestDist = f.prefix+parts[segs], d
		}
	}
	if best == "" || (bestDist > 0 && len(name) < 4) {
		return ""
	}
	return best
}

// nameDistance is the edit distance between two names, where a difference of case
// alone counts as 0.
func nameDistance(a, b string) int {
	if strings.EqualFold(a, b) {
		return 0
	}
	if d := len(a) - len(b); d > 3 || d < -3 {
		return 4 // the distance is at least the difference in length: too far to suggest
	}
	return levenshtein(strings.ToLower(a), strings.ToLower(b))
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
