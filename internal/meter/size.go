package meter

import (
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ItemSize is the size of a DynamoDB item by DynamoDB's rules: the UTF-8
// lengths of attribute names and strings, numbers by their significant digits,
// 3 bytes per list or map plus 1 per element, 1 per boolean or null. Capacity
// units are charged by it.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + len(v.Value) + ItemSize(v.Value)
	}
	return 0
}

// numberSize is the stored size of a number: its significant digits two to a
// byte, plus a byte of exponent, plus one for a negative number (DynamoDB's
// documented "(significant digits / 2) + 1", exactly as dynalite computes it).
func numberSize(s string) int {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, _ = strconv.Atoi(s[i+1:])
		s = s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := intPart + frac
	first := strings.IndexFunc(digits, func(r rune) bool { return r != '0' })
	if first < 0 {
		return 1 // zero
	}
	last := strings.LastIndexFunc(digits, func(r rune) bool { return r != '0' })
	sig := last - first + 1
	e := len(intPart) - first - 1 + exp // the exponent of the first significant digit
	n := 1 + (sig+1)/2
	if sig%2 == 0 && e%2 == 0 {
		n++
	}
	if neg {
		n++
	}
	return n
}
