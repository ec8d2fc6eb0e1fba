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
		if back := SetSegment(got); back != tt.id {
			t.Errorf("SetSegment(%q) = %q, want %q", got, back, tt.id)
		}
	}
}
