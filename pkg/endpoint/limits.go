package endpoint

// Limits are the spec's per-endpoint and per-deployment limits. The zero value is
// not useful; start from DefaultLimits.
type Limits struct {
	AttributesPerEndpoint int // custom names per endpoint, in each family
	CustomAttributeNames  int // distinct custom names across the deployment
	NameLength            int // characters in a custom attribute name
	ValueLength           int // characters in one custom attribute value
	ValuesPerAttribute    int // values in one Attributes.* or User.UserAttributes.* list
	EndpointBytes         int // an endpoint's size, names and values in UTF-8 bytes
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
