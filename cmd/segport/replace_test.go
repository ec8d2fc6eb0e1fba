package main

import (
	"strings"
	"testing"
)

// TestImportReplace: two appends, then import --replace: jobs get shows each
// job's mode, segments versions each version's, and members --version reads
// the version before the replace as it was.
func TestImportReplace(t *testing.T) {
	data := t.TempDir()
	for i, body := range []string{"Id,ChannelType,Address\nk-1,EMAIL,k1@example.com\n", "Id,ChannelType,Address\nk-2,EMAIL,k2@example.com\n"} {
		f := writeFile(t, "f.csv", body)
		if out, errOut, code := runCLI(t, "import", "--data", data, "--segment", "kept", f); code != 0 || !strings.Contains(out, "mode:      APPEND") {
			t.Fatalf("import %d: %d\n%s\n%s", i+1, code, out, errOut)
		}
	}
	f := writeFile(t, "new.csv", "Id,ChannelType,Address\nk-3,EMAIL,k3@example.com\n")
	out, errOut, code := runCLI(t, "import", "--data", data, "--segment", "kept", "--replace", f)
	if code != 0 || !strings.Contains(out, "mode:      REPLACE") {
		t.Fatalf("import --replace: %d\n%s\n%s", code, out, errOut)
	}
	out, _, _ = runCLI(t, "segments", "versions", "--data", data, "kept")
	for _, want := range []string{"version 1 append: COMPLETED", "version 2 append: COMPLETED", "version 3 (current) replace: COMPLETED", "; 1 endpoints;"} {
		if !strings.Contains(out, want) {
			t.Errorf("segments versions: no %q in\n%s", want, out)
		}
	}
	for version, want := range map[string][]string{"2": {"k-1", "k-2"}, "3": {"k-3"}, "0": {"k-3"}} {
		args := []string{"segments", "members", "--data", data, "kept"}
		if version != "0" {
			args = append(args, "--version", version)
		}
		out, errOut, code := runCLI(t, args...)
		if code != 0 || strings.Count(out, "\n") != len(want) {
			t.Fatalf("members --version %s: %d\n%s\n%s", version, code, out, errOut)
		}
		for _, id := range want {
			if !strings.Contains(out, `"Id":"`+id+`"`) {
				t.Errorf("members --version %s: no %s in\n%s", version, id, out)
			}
		}
	}
}
