package endpoint

import (
	"iter"
	"slices"
)

// Each calls fn for every attribute given in e, in canonical order, except
// User.UserAttributes.*, which belong to the user (see UserAttrs).
func (e *Endpoint) Each(fn func(Attr)) {
	for _, k := range []Kind{KindId, KindChannelType, KindAddress, KindEndpointStatus, KindOptOut, KindEffectiveDate, KindCreationDate, KindRequestId} {
		if *e.str(k) != "" {
			fn(Attr{Kind: k})
		}
	}
	if l := e.Location; l != nil {
		for _, k := range []Kind{KindCity, KindCountry, KindPostalCode, KindRegion} {
			if *e.str(k) != "" {
				fn(Attr{Kind: k})
			}
		}
		if l.Latitude != nil {
			fn(Attr{Kind: KindLatitude})
		}
		if l.Longitude != nil {
			fn(Attr{Kind: KindLongitude})
		}
	}
	if e.Demographic != nil {
		for k := KindAppVersion; k <= KindTimezone; k++ {
			if *e.str(k) != "" {
				fn(Attr{Kind: k})
			}
		}
	}
	if e.User != nil && e.User.UserId != "" {
		fn(Attr{Kind: KindUserId})
	}
	for _, l := range e.Attributes {
		fn(Attr{Kind: KindAttribute, Custom: l.Name})
	}
	for _, m := range e.Metrics {
		fn(Attr{Kind: KindMetric, Custom: m.Name})
	}
}

// CustomNames yields the dotted name of every custom attribute given in e,
// User.UserAttributes.* included ("Attributes.x", "Metrics.y", ...).
func (e *Endpoint) CustomNames() iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, a := range e.Attributes {
			if !yield(PrefixAttributes + a.Name) {
				return
			}
		}
		for _, m := range e.Metrics {
			if !yield(PrefixMetrics + m.Name) {
				return
			}
		}
		if e.User != nil {
			for _, a := range e.User.UserAttributes {
				if !yield(PrefixUserAttributes + a.Name) {
					return
				}
			}
		}
	}
}

// Copy sets attribute a of dst to its value in src.
func Copy(dst, src *Endpoint, a Attr) {
	switch a.Kind {
	case KindLatitude:
		v := *src.Location.Latitude
		dst.loc().Latitude = &v
	case KindLongitude:
		v := *src.Location.Longitude
		dst.loc().Longitude = &v
	case KindAttribute:
		v, _ := src.Attributes.Get(a.Custom)
		dst.Attributes.Put(a.Custom, slices.Clone(v))
	case KindMetric:
		v, _ := src.Metrics.Get(a.Custom)
		dst.Metrics.Put(a.Custom, v)
	default:
		if p := dst.str(a.Kind); p != nil {
			*p = *src.str(a.Kind)
		}
	}
}

// str returns the string field of kind k, creating the nested object it lives in.
// On a read of an absent nested object it returns a pointer to an empty string.
func (e *Endpoint) str(k Kind) *string {
	switch k {
	case KindId:
		return &e.Id
	case KindChannelType:
		return &e.ChannelType
	case KindAddress:
		return &e.Address
	case KindEndpointStatus:
		return &e.EndpointStatus
	case KindOptOut:
		return &e.OptOut
	case KindEffectiveDate:
		return &e.EffectiveDate
	case KindCreationDate:
		return &e.CreationDate
	case KindRequestId:
		return &e.RequestId
	case KindCity:
		return &e.loc().City
	case KindCountry:
		return &e.loc().Country
	case KindPostalCode:
		return &e.loc().PostalCode
	case KindRegion:
		return &e.loc().Region
	case KindAppVersion:
		return &e.demo().AppVersion
	case KindLocale:
		return &e.demo().Locale
	case KindMake:
		return &e.demo().Make
	case KindModel:
		return &e.demo().Model
	case KindModelVersion:
		return &e.demo().ModelVersion
	case KindPlatform:
		return &e.demo().Platform
	case KindPlatformVersion:
		return &e.demo().PlatformVersion
	case KindTimezone:
		return &e.demo().Timezone
	case KindUserId:
		if e.User == nil {
			e.User = &User{}
		}
		return &e.User.UserId
	}
	return nil
}

func (e *Endpoint) loc() *Location {
	if e.Location == nil {
		e.Location = &Location{}
	}
	return e.Location
}

func (e *Endpoint) demo() *Demographic {
	if e.Demographic == nil {
		e.Demographic = &Demographic{}
	}
	return e.Demographic
}
