package job

import (
	"fmt"
	"slices"
	"testing"
)

// TestSkippedList: a job lists the first MaxSkipped skipped objects and counts the rest.
func TestSkippedList(t *testing.T) {
	few := []string{"s3://b/a.json", "s3://b/b.json"}
	if got := SkippedList(few); !slices.Equal(got, few) {
		t.Errorf("SkippedList(few) = %q", got)
	}
	urls := make([]string, MaxSkipped+5)
	for i := range urls {
		urls[i] = fmt.Sprintf("s3://b/%03d.json", i)
	}
	got := SkippedList(urls)
	if len(got) != MaxSkipped+1 || got[MaxSkipped-1] != "s3://b/099.json" || got[MaxSkipped] != "... and 5 more" || urls[MaxSkipped] != "s3://b/100.json" {
		t.Fatalf("%d entries, last %q", len(got), got[len(got)-1])
	}
}
