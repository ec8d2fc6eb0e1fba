package sim

import (
	"fmt"
	"maps"
	"slices"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// checkBases checks each version's generation: a version is a replace if and
// only if its job's file replaces, a replace is its own generation, and any
// other version belongs to the latest replace numbered before it (0 if
// none), whatever that replace's end.
func checkBases(failf func(string, ...any), vs []*segment.Version, byJob map[string]*job.Head, sc scenario) {
	replaces := map[string]bool{}
	for _, f := range sc.files {
		replaces[f.jobId] = f.replace
	}
	base := 0
	for _, v := range vs {
		if replaces[v.JobId] {
			base = v.Version
		}
		if v.Replace != replaces[v.JobId] || v.Base != base {
			failf("generations: version %d (job %s, replace %v) is in generation %d, replace %v; want generation %d",
				v.Version, v.JobId, replaces[v.JobId], v.Base, v.Replace, base)
		}
	}
}

// checkVersionMembers checks, when no row was lost, that every version of a
// segment that had a replace holds what the rule says: an append the version
// before it plus its job's endpoints, a replace its job's endpoints alone.
// Versions of one generation that ran at the same time share the endpoints
// both named from the version that wrote them first (README, Segment
// versions), so a version may lack those a later version of its generation
// also named; it has every other, and nothing else. A version whose members
// were pruned is left out, and its generation must hold no member item.
func checkVersionMembers(failf func(string, ...any), w *world, sc scenario, refs []refFile, segId string, deleted map[string]string) {
	ids := map[string][]string{}  // job -> the endpoint ids of its valid rows
	live := map[string][]string{} // job -> those of its rows after the id's latest delete
	for i, f := range sc.files {
		if f.isDelete() {
			continue
		}
		for _, r := range refs[i].valid {
			ids[f.jobId] = append(ids[f.jobId], r.e.Id)
			if r.stamp > deleted[r.e.Id] {
				live[f.jobId] = append(live[f.jobId], r.e.Id)
			}
		}
	}
	vs := w.db.Versions(segId)
	own := func(v *segment.Version, ids map[string][]string) []string { // the ids v's own job wrote
		if h := w.db.Job(v.JobId); h != nil && h.Launch.Version == v.Version {
			return ids[v.JobId]
		}
		return nil
	}
	// A member may be of any row of its generation's versions up to it; it
	// must be of those after the id's latest delete (a delete erases it
	// from every generation).
	may, want := map[string]bool{}, map[string]bool{}
	for k, v := range vs {
		if v.Replace {
			may, want = map[string]bool{}, map[string]bool{}
		}
		for _, id := range own(v, ids) {
			may[id] = true
		}
		for _, id := range own(v, live) {
			want[id] = true
		}
		later := map[string]bool{} // named by a later version of its generation
		for _, u := range vs[k+1:] {
			if u.Base != v.Base {
				break
			}
			for _, id := range own(u, ids) { // any row: one older than a delete makes the member too, until erased
				later[id] = true
			}
		}
		set := segment.MemberSet(segId, v.Base)
		if v.Pruned {
			if all := w.db.VersionMemberIds(set, 1<<30); len(all) > 0 {
				failf("generations: version %d is pruned, its generation %d holds %d member items", v.Version, v.Base, len(all))
			}
			continue
		}
		got := w.db.VersionMemberIds(set, v.Version)
		for _, id := range got {
			if !may[id] {
				failf("generations: version %d (replace %v) has member %s, which neither it nor a version it builds on imported", v.Version, v.Replace, id)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(want)) {
			if !later[id] && !slices.Contains(got, id) {
				failf("generations: version %d (replace %v) lacks %s: members %v", v.Version, v.Replace, id, got)
			}
		}
	}
}

// describeVersions says, for a failure, what each version of a segment holds.
func describeVersions(w *world, segId string) string {
	s := ""
	for _, v := range w.db.Versions(segId) {
		c := -1
		if v.EndpointCount != nil {
			c = *v.EndpointCount
		}
		s += fmt.Sprintf("; version %d %s replace %v generation %d pruned %v counts %d, %d member items in its generation",
			v.Version, v.JobStatus, v.Replace, v.Base, v.Pruned, c, len(w.db.VersionMemberIds(segment.MemberSet(segId, v.Base), 1<<30)))
	}
	return s
}
