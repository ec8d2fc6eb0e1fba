package segment

import (
	"strconv"
	"strings"
)

// Generations. An import either appends (its version is the previous one plus
// its endpoints) or replaces (its version is exactly its endpoints). A replace
// starts a generation: its members, and those of every version numbered after
// it up to the next replace, are kept under member partitions of their own,
// named by the replace's version number, the generation's base. Version N
// lists the members of its generation added by a version up to N, so that
// storage grows with the changes, never with versions × members, and the
// versions before a replace keep their members until they are pruned.

// MemberSet returns the name that prefixes the member partitions of a
// segment's generation: the segment id for generation 0 (the versions before
// any replace), "<SegmentId>#r<base>" for the generation of the replace that
// made version base.
func MemberSet(segmentId string, base int) string {
	if base <= 0 {
		return segmentId
	}
	return segmentId + "#r" + strconv.Itoa(base)
}

// SetSegment returns the segment id of a member set (MemberSet's inverse).
func SetSegment(set string) string {
	id, _ := ParseSet(set)
	return id
}

// ParseSet returns the segment id and the generation of a member set.
func ParseSet(set string) (segmentId string, base int) {
	if i := strings.LastIndex(set, "#r"); i > 0 {
		if n, err := strconv.Atoi(set[i+2:]); err == nil && n > 0 {
			return set[:i], n
		}
	}
	return set, 0
}
