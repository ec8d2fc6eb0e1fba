package job

import (
	"strings"
	"testing"
	"time"
)

func TestStampOrdersFilesAndLines(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pairs := []struct{ a, b [2]int }{ // (file, line) a sorts before b
		{[2]int{9, 1}, [2]int{10, 1}},
		{[2]int{9999, 5}, [2]int{10000, 1}},
		{[2]int{0, 9}, [2]int{0, 10}},
		{[2]int{3, 999999999}, [2]int{3, 1000000000}},
		{[2]int{123456, 7}, [2]int{1234567, 1}},
	}
	for _, p := range pairs {
		a, b := Stamp(at, "o", p.a[0], p.a[1]), Stamp(at, "o", p.b[0], p.b[1])
		if a >= b {
			t.Errorf("stamp of %v = %q does not sort before that of %v = %q", p.a, a, p.b, b)
		}
	}
	if Stamp(at, "o", 1, 2) != Stamp(at, "o", 1, 2) {
		t.Fatal("stamps differ for the same row")
	}
}

func TestPieceRules(t *testing.T) {
	tally := func(n int) Tally { return Tally{Rows: n, Channels: map[string]int{"SMS": n}} }
	tests := []struct {
		name              string
		p                 PieceState
		settled, failed   bool
		written, lostRows int
	}{
		{name: "new", p: PieceState{}},
		{name: "parsed, batches pending", p: PieceState{Parsed: true, Result: PieceResult{Batches: 2}, Done: map[int]Tally{0: tally(3)}}, written: 3},
		{name: "parsed, all written", p: PieceState{Parsed: true, Result: PieceResult{Batches: 2}, Done: map[int]Tally{0: tally(3), 1: tally(2)}}, settled: true, written: 5},
		{name: "parsed, no batches", p: PieceState{Parsed: true}, settled: true},
		{name: "one batch lost", p: PieceState{Parsed: true, Result: PieceResult{Batches: 2}, Done: map[int]Tally{0: tally(3)},
			Lost: map[int]LostBatch{1: {Tally: tally(4), Reason: "x"}}}, settled: true, failed: true, written: 3, lostRows: 4},
		{name: "lost batch written later", p: PieceState{Parsed: true, Result: PieceResult{Batches: 1}, Done: map[int]Tally{0: tally(4)},
			Lost: map[int]LostBatch{0: {Tally: tally(4), Reason: "x"}}}, settled: true, written: 4},
		{name: "gave up before parsing, batches written", p: PieceState{GaveUp: "crashed", Done: map[int]Tally{0: tally(7)}}, settled: true, failed: true, written: 7},
		{name: "gave up, then parsed", p: PieceState{GaveUp: "crashed", Parsed: true, Result: PieceResult{Batches: 1}}},
		{name: "unreadable to its end", p: PieceState{Parsed: true, Result: PieceResult{Error: "f: gzip"}}, settled: true, failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Settled(); got != tt.settled {
				t.Errorf("Settled() = %v, want %v", got, tt.settled)
			}
			if got := tt.p.Settled() && tt.p.Failed(); got != tt.failed {
				t.Errorf("failed = %v, want %v", got, tt.failed)
			}
			if got := tt.p.Written(); got.Rows != tt.written || got.Channels["SMS"] != tt.written {
				t.Errorf("Written() = %+v, want %d rows", got, tt.written)
			}
			lost := 0
			for _, seq := range tt.p.Unwritten() {
				lost += tt.p.Lost[seq].Rows
			}
			if lost != tt.lostRows {
				t.Errorf("lost rows %d, want %d", lost, tt.lostRows)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	sms := func(n int) Tally { return Tally{Rows: n, Channels: map[string]int{"SMS": n}} }
	tests := []struct {
		name      string
		pieces    []*PieceState
		total     int
		status    Status
		settled   bool
		processed int
		failures  int
		done, bad int
		messages  []string
	}{
		{name: "no piece yet", total: 1, status: Failed},
		{name: "all written", total: 2, status: Completed, settled: true, processed: 5, done: 2,
			pieces: []*PieceState{
				{Index: 1, Parsed: true, Result: PieceResult{Batches: 1, Failed: 1, Failures: []string{"a.csv:9: Address: bad"}}, Done: map[int]Tally{0: sms(2)}},
				{Index: 0, Parsed: true, Result: PieceResult{Batches: 1}, Done: map[int]Tally{0: sms(3)}},
			}, failures: 1, messages: []string{"a.csv:9: Address: bad"}},
		{name: "a lost batch counts its rows as failures", total: 1, status: Completed, settled: true, processed: 3, failures: 4, bad: 1,
			pieces: []*PieceState{{Plan: Piece{Key: "a.csv"}, Parsed: true, Result: PieceResult{Batches: 2}, Done: map[int]Tally{0: sms(3)},
				Lost: map[int]LostBatch{1: {Tally: sms(4), Line: 40, Reason: "throttled"}}}},
			messages: []string{"a.csv:40: 4 rows from this line on were not imported: throttled"}},
		{name: "nothing applied fails", total: 1, status: Failed, settled: true, bad: 1,
			pieces:   []*PieceState{{GaveUp: "a.csv: piece 0 crashed 3 times"}},
			messages: []string{"a.csv: piece 0 crashed 3 times"}},
		{name: "only bad rows fails", total: 1, status: Failed, settled: true, failures: 2, done: 1,
			pieces:   []*PieceState{{Parsed: true, Result: PieceResult{Failed: 2, Failures: []string{"x", "y"}}}},
			messages: []string{"x", "y"}},
		{name: "no rows at all fails with a reason", total: 1, status: Failed, settled: true, done: 1,
			pieces: []*PieceState{{Parsed: true}}, messages: []string{"the import applied no endpoint: its files hold no rows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.pieces, tt.total)
			if s.Status != tt.status || s.Settled != tt.settled || s.Written.Rows != tt.processed ||
				s.Failures != tt.failures || s.Completed != tt.done || s.FailedN != tt.bad {
				t.Fatalf("got %+v", s)
			}
			if strings.Join(s.Messages, "\n") != strings.Join(tt.messages, "\n") {
				t.Fatalf("messages %q, want %q", s.Messages, tt.messages)
			}
			sum := 0
			for _, n := range s.Written.Channels {
				sum += n
			}
			if sum != s.Written.Rows {
				t.Fatalf("channels add up to %d, rows %d", sum, s.Written.Rows)
			}
		})
	}
}
