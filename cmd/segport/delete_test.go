package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDeleteCommands: deleting a user takes every endpoint of the user out of
// every segment and table, counts stay exact, and once everything imported is
// deleted, segport dump holds none of the addresses.
func TestDeleteCommands(t *testing.T) {
	data := t.TempDir()
	people := writeFile(t, "people.csv", "Id,ChannelType,Address,User.UserId,User.UserAttributes.Plan\n"+
		"e1,EMAIL,alice@example.com,u-alice,gold\ne2,SMS,+12065550101,u-alice,gold\n"+
		"e3,EMAIL,bob@example.com,u-bob,silver\ne4,EMAIL,carol@example.com,u-carol,bronze\n")
	vip := writeFile(t, "vip.csv", "Id,ChannelType,Address,User.UserId\ne2,SMS,+12065550101,u-alice\ne4,EMAIL,carol@example.com,u-carol\n")
	fans := writeFile(t, "fans.csv", "User.UserId\nu-alice\nu-carol\n")
	for _, f := range []string{people, vip, fans} {
		if out, errOut, code := runCLI(t, "import", "--data", data, f); code != 0 {
			t.Fatalf("import %s: code %d\n%s\n%s", f, code, out, errOut)
		}
	}
	count := func(name string, want int) {
		t.Helper()
		out, _, code := runCLI(t, "segments", "get", "--json", "--data", data, name)
		var s struct{ EndpointCount int }
		if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.EndpointCount != want {
			t.Fatalf("segments get %s: code %d, %s; want EndpointCount %d", name, code, out, want)
		}
		out, _, code = runCLI(t, "segments", "get", "--json", "--data", data, "--version", "1", name)
		if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.EndpointCount != want {
			t.Fatalf("segments get %s --version 1: code %d, %s; want EndpointCount %d", name, code, out, want)
		}
	}
	dump := func() string {
		t.Helper()
		out, errOut, code := runCLI(t, "dump", "--data", data)
		if code != 0 {
			t.Fatalf("dump: code %d\n%s", code, errOut)
		}
		return out
	}

	out, errOut, code := runCLI(t, "users", "delete", "--data", data, "--json", "u-alice")
	if code != 0 || !strings.Contains(out, `"Found":1`) {
		t.Fatalf("users delete: code %d\n%s\n%s", code, out, errOut)
	}
	d := dump()
	for _, gone := range []string{"alice@example.com", "+12065550101", `"e1"`, `"e2"`, "u-alice", "gold"} {
		if strings.Contains(d, gone) {
			t.Errorf("after deleting u-alice the dump holds %s:\n%s", gone, d)
		}
	}
	count("people", 2)
	count("vip", 1)
	if _, _, code := runCLI(t, "endpoints", "get", "--data", data, "e1"); code != 2 {
		t.Errorf("endpoints get of a deleted endpoint: code %d, want 2 (not found)", code)
	}
	out, _, _ = runCLI(t, "segments", "members", "--data", data, "fans")
	if strings.Contains(out, "alice") || !strings.Contains(out, "carol@example.com") {
		t.Errorf("members of the segment of users after deleting u-alice:\n%s", out)
	}

	if out, errOut, code := runCLI(t, "endpoints", "delete", "--data", data, "e3"); code != 0 || !strings.Contains(out, "1 of them stored") {
		t.Fatalf("endpoints delete: code %d\n%s\n%s", code, out, errOut)
	}
	count("people", 1)
	if out, errOut, code := runCLI(t, "segments", "delete", "--data", data, "vip"); code != 0 {
		t.Fatalf("segments delete: code %d\n%s\n%s", code, out, errOut)
	}
	if _, _, code := runCLI(t, "segments", "get", "--data", data, "vip"); code != 2 {
		t.Errorf("segments get of a deleted segment: code %d, want 2", code)
	}
	if _, errOut, code := runCLI(t, "users", "delete", "--data", data); code != 2 || !strings.Contains(errOut, "usage: segport users delete") {
		t.Errorf("users delete without ids: code %d\n%s", code, errOut)
	}

	// Everything else imported.
	if out, errOut, code := runCLI(t, "users", "delete", "--data", data, "u-bob", "u-carol"); code != 0 {
		t.Fatalf("users delete: code %d\n%s\n%s", code, out, errOut)
	}
	d = dump()
	for _, gone := range []string{"@example.com", "+1206", "u-bob", "u-carol", "silver", "bronze", `"e3"`, `"e4"`} {
		if strings.Contains(d, gone) {
			t.Errorf("after deleting everything the dump holds %s:\n%s", gone, d)
		}
	}
	count("people", 0)
}
