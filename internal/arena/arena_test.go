package arena

import (
	"strings"
	"testing"
)

func TestStringsNeverChange(t *testing.T) {
	tests := []struct {
		name  string
		arena *Strings
	}{
		{name: "arena", arena: &Strings{}},
		{name: "nil arena", arena: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := []byte{}
			var got, want []string
			for i := 0; i < 5000; i++ { // several blocks, and strings longer than maxShared
				buf = append(buf[:0], strings.Repeat(string(rune('a'+i%26)), i%(maxShared+300))...)
				if i%3 == 0 {
					got = append(got, tt.arena.Concat(buf, []byte("!")))
					want = append(want, string(buf)+"!")
				} else {
					got = append(got, tt.arena.String(buf))
					want = append(want, string(buf))
				}
				for j := range buf {
					buf[j] = '?' // the caller's bytes change; the strings must not
				}
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("string %d changed: %.20q..., want %.20q...", i, got[i], want[i])
				}
			}
		})
	}
}

func BenchmarkString(b *testing.B) {
	var a Strings
	rec := []byte("EMAIL,ana@example.com,ACTIVE,NONE,20231005T152758Z,GBR,London,56165")
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		_ = a.String(rec)
	}
}
