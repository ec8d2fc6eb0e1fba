package meter

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestNumberSize(t *testing.T) {
	// The sizes dynalite (and DynamoDB) give: significant digits two to a byte,
	// one byte of exponent, one more for a negative number.
	tests := []struct {
		n    string
		want int
	}{
		{"0", 1}, {"0.000", 1}, {"1", 2}, {"10", 2}, {"12", 2}, {"123", 3}, {"1234", 3}, {"420", 3}, {"4200", 2},
		{"0.5", 2}, {"0.25", 2}, {"25.5", 3}, {"-5", 3}, {"1e3", 2}, {"12345678901234567890", 11},
	}
	for _, tt := range tests {
		if got := numberSize(tt.n); got != tt.want {
			t.Errorf("numberSize(%s) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestItemSize(t *testing.T) {
	item := map[string]types.AttributeValue{
		"Id": &types.AttributeValueMemberS{Value: "abc"},   // 2 + 3
		"Ok": &types.AttributeValueMemberBOOL{Value: true}, // 2 + 1
		"Tags": &types.AttributeValueMemberL{Value: []types.AttributeValue{ // 4 + 3 + (1+1) + (1+2)
			&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberS{Value: "yz"},
		}},
		"Loc": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{ // 3 + 3 + 1 + (4 + 2)
			"City": &types.AttributeValueMemberS{Value: "NY"},
		}},
		"Set": &types.AttributeValueMemberNS{Value: []string{"1", "12"}}, // 3 + 2 + 2
	}
	if got, want := ItemSize(item), 5+3+12+13+7; got != want {
		t.Errorf("ItemSize = %d, want %d", got, want)
	}
}
