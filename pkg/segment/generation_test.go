package segment

import "testing"

func TestMemberSet(t *testing.T) {
	tests := []struct {
		id   string
		base int
		want string
	}{
		{"0123456789abcdef", 0, "0123456789abcdef"},
		{"0123456789abcdef", 4, "0123456789abcdef#r4"},
		{"0123456789abcdef", 1234567, "0123456789abcdef#r1234567"},
	}
	for _, tt := range tests {
		got := MemberSet(tt.id, tt.base)
		if got != tt.want {
			t.Errorf("MemberSet(%q, %d) = %q, want %q", tt.id, tt.base, got, tt.want)
		}
		if id, base := ParseSet(got); id != tt.id || base != tt.base {
			t.Errorf("ParseSet(%q) = %q, %d, want %q, %d", got, id, base, tt.id, tt.base)
		}
	}
}
