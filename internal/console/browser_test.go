package console_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/segport/segport/internal/console"
	"github.com/segport/segport/pkg/client"
)

var screenshots = flag.String("screenshots", "", "`DIR` to copy the browser test's screenshots into as well (docs/console refreshes the README's)")

// The browser is Debian's chromium-headless-shell package: the test installs it
// when it is missing (make test runs as root), and fails if it cannot.
const browserPackage = "chromium-headless-shell"

var (
	browserOnce sync.Once
	browserPath string
	browserErr  error
)

// headlessShell returns the path of the headless Chromium, installing the Debian
// package first if it is missing.
func headlessShell(t *testing.T) string {
	t.Helper()
	browserOnce.Do(func() {
		find := func() string {
			for _, p := range []string{browserPackage, "/usr/lib/chromium/" + browserPackage} {
				if path, err := exec.LookPath(p); err == nil {
					return path
				}
			}
			return ""
		}
		if browserPath = find(); browserPath != "" {
			return
		}
		install := "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends " + browserPackage
		cmd := exec.Command("sh", "-c", install)
		if os.Geteuid() != 0 {
			cmd = exec.Command("sudo", "-n", "sh", "-c", install)
		}
		out, err := cmd.CombinedOutput()
		if browserPath = find(); browserPath == "" {
			browserErr = fmt.Errorf("%s is not installed and `%s` failed (%v): install it as root:\n%s", browserPackage, install, err, out)
		}
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	return browserPath
}

// page drives one headless Chromium tab and remembers what its console said.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // folder of the screenshots

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
	// expectFailed is a URL path whose failed requests the browser's log may
	// report: the test made them fail.
	expectFailed string
}

func newPage(t *testing.T, base string) *page {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(headlessShell(t)), chromedp.NoSandbox, chromedp.WindowSize(1200, 900),
		chromedp.Flag("disable-gpu", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	p := &page{t: t, ctx: ctx, base: base, shot: t.TempDir()}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", browserPackage, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.messages = append(p.messages, m)
			p.mu.Unlock()
		}
	}()
	dl := true
	if _, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: p.shot, EventsEnabled: &dl,
	}); err != nil {
		t.Fatal(err)
	}
	return p
}

// do runs the steps with a timeout, failing the test with what step says.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\nconsole: %v", what, err, p.console())
	}
}

// eval evaluates a JavaScript expression into v.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until polls a JavaScript expression until it is truthy.
func (p *page) until(what, expr string) {
	p.t.Helper()
	p.do(what, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for try := 0; ; try++ {
			_, err := chromedp.Poll[any](expr, chromedp.WithPollingTimeout(90*time.Second))(ctx, t)
			// A poll that starts while a page replaces the one before
			// evaluates in a context that is gone: poll again.
			if err == nil || try == 5 || !strings.Contains(err.Error(), "Cannot find context") {
				return chromedp.Void{}, err
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// open shows a page of the console and waits for its heading.
func (p *page) open(hash, heading string) {
	p.t.Helper()
	// From a blank page, so that the page loads anew even on its own URL.
	p.do("open "+hash, chromedp.Navigate("about:blank"), chromedp.Navigate(p.base+"/console/"+hash))
	p.until("heading of "+hash, fmt.Sprintf(`document.querySelector("h1") && document.querySelector("h1").textContent === %q`, heading))
}

// screenshot saves the whole page as NAME.png, and checks that it reads at
// 200%% zoom: at half the width, nothing runs off the side.
func (p *page) screenshot(name string) {
	p.t.Helper()
	var png []byte
	p.do("screenshot "+name, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var err error
		png, err = chromedp.FullScreenshot(100)(ctx, t)
		return chromedp.Void{}, err
	})
	for _, dir := range []string{p.shot, *screenshots} {
		if dir == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	p.do("zoom 200%", func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 600, Height: 900, DeviceScaleFactor: 2})
		return chromedp.Void{}, err
	})
	over := eval[[]string](p, `Array.from(document.querySelectorAll("main *")).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !e.closest(".table-wrap, pre, svg")).map(e => e.tagName + " " + (e.textContent || "").slice(0, 40))`)
	if len(over) > 0 {
		p.t.Errorf("%s at 200%% zoom: %d elements run off the side: %q", name, len(over), over)
	}
	p.do("zoom 100%", func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return chromedp.Void{}, err
	})
}

func (p *page) console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.messages {
		out = append(out, m.String())
	}
	return out
}

// errors are the console's errors and uncaught exceptions.
func (p *page) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.messages {
		if p.expectFailed != "" && m.Source == "network" && strings.HasSuffix(m.URL, p.expectFailed) {
			continue
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			out = append(out, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line))
		}
	}
	return out
}

// chooseFiles fills the Import segment form for files from the computer and
// waits for each file's dry run.
func (p *page) chooseFiles(segment string, files ...string) {
	p.t.Helper()
	p.open("#/import", "Import segment")
	p.do("fill the form",
		chromedp.SendKeys(chromedp.CSS("#segment-name"), segment),
		chromedp.Click(chromedp.CSS("#source-files")),
		chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), files))
	p.until("dry runs", fmt.Sprintf(`document.querySelectorAll("#preview .dry-run .summary").length === %d`, len(files)))
}

// dryRunSummary is the summary line of a file's dry run.
func (p *page) dryRunSummary(file string) string {
	return eval[string](p, fmt.Sprintf(`document.querySelector('#preview .dry-run[data-file=%q] .summary').textContent`, file))
}

// importAndWait presses Import segment, lands on the Jobs page, and waits until
// the segment's n jobs show COMPLETED, without reloading; it returns their ids.
func (p *page) importAndWait(segment string, n int) []string {
	p.t.Helper()
	p.do("import", chromedp.Click(chromedp.CSS("#import-submit")))
	p.until("the Jobs page", `location.hash === "#/jobs" && document.querySelector("h1").textContent === "Jobs"`)
	// A reload would drop this mark.
	eval[any](p, `window.segportNoReload = true`)
	cards := fmt.Sprintf(`Array.from(document.querySelectorAll("article.card")).filter(c => c.dataset.segment === %q)`, segment)
	p.until("the jobs are listed", cards+`.length === `+fmt.Sprint(n))
	p.until("the jobs end", cards+`.every(c => c.dataset.status === "COMPLETED" || c.dataset.status === "FAILED")`)
	if !eval[bool](p, `window.segportNoReload === true`) {
		p.t.Fatal("the Jobs page reloaded")
	}
	if st := eval[[]string](p, cards+`.map(c => c.dataset.status)`); strings.Join(st, ",") != strings.Repeat("COMPLETED,", n)[:len("COMPLETED,")*n-1] {
		p.t.Fatalf("jobs of %s: %v", segment, st)
	}
	return eval[[]string](p, cards+`.map(c => c.dataset.job)`)
}

// facts reads a page's <dl class="facts"> into a map.
func (p *page) facts() map[string]string {
	return eval[map[string]string](p, `Object.fromEntries(Array.from(document.querySelectorAll("dl.facts dt")).map(dt => [dt.textContent, dt.nextElementSibling.textContent]))`)
}

// TestBrowser drives the console in a real headless Chromium on the local stack:
// a segment made by uploading the spec's two example files and customers.csv,
// its jobs watched to COMPLETED, its counts checked against the tables, the
// error report of a file with bad rows downloaded, an endpoint and a user looked
// up; every page screenshotted, with no console errors. The console is behind
// httpapi.Loopback with the console's session, as segport dev serves it.
func TestBrowser(t *testing.T) {
	// As segport dev serves it: every request of the pages must carry the
	// session that the printed URL opens.
	srv, entry := sessionServer(t)
	p := newPage(t, srv.URL)
	p.do("open the session", chromedp.Navigate(entry))
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}

	// An empty stack says so, and how to begin.
	p.open("#/segments", "Segments")
	p.until("segments listed", `document.querySelector("table, .empty")`)

	// Import segment: three files, two formats, dry-run first.
	// Names of their own, so that a second run (-count=2) on the same stack finds only its jobs.
	// (Screenshots for the README keep the plain names.)
	run := fmt.Sprintf(" %x", time.Now().UnixNano()&0xffffff)
	if *screenshots != "" {
		run = ""
	}
	segment := "browser spring" + run
	p.chooseFiles(segment, filepath.Join(examples, "spec-example.csv"), filepath.Join(examples, "spec-example.json"), filepath.Join(examples, "customers.csv"))
	for file, want := range map[string]string{
		"spec-example.csv":  "CSV: 5 rows checked: 5 valid, 0 with errors.",
		"spec-example.json": "JSON: 5 rows checked: 5 valid, 0 with errors.",
		"customers.csv":     "CSV: 4 rows checked: 4 valid, 0 with errors.",
	} {
		if got := p.dryRunSummary(file); got != want {
			t.Errorf("dry run of %s: %q, want %q", file, got, want)
		}
	}
	p.screenshot("import")
	jobs := p.importAndWait(segment, 2) // one per format
	p.screenshot("jobs")

	// The segment's page against what `segport segments get` reads.
	rt := stack.Runtime(t)
	tables := rt.App.Config.Tables
	c := client.New(rt.Stack.AWSConfig(), client.Tables{Endpoints: tables.Endpoints, Users: tables.Users, Segments: tables.Segments, Members: tables.Members, Jobs: tables.Jobs})
	seg, err := c.GetSegment(context.Background(), segment)
	if err != nil {
		t.Fatal(err)
	}
	p.do("open the segment", chromedp.Click(chromedp.CSS(fmt.Sprintf(`article.card[data-job=%q] h2 a`, jobs[0]))))
	p.until("the segment page", fmt.Sprintf(`document.querySelector("h1").textContent === %q && document.querySelectorAll("#members-h ~ .page tbody tr").length > 0 && !/…/.test(document.querySelector("dl.facts").textContent)`, segment))
	f := p.facts()
	want := map[string]string{
		"Id": seg.Id, "Endpoints": fmt.Sprint(seg.EndpointCount), "Users": "2",
		"Version":                       fmt.Sprintf("%d (every import makes a new version)", seg.Version),
		"Endpoint definitions imported": fmt.Sprint(seg.ImportDefinition.Size),
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("segment page %s: %q, want %q (the segment: %+v)", k, f[k], v, seg)
		}
	}
	if seg.EndpointCount != 9 || seg.ImportDefinition.Size != 14 {
		t.Errorf("segment %+v: want 9 endpoints from 14 definitions", seg)
	}
	if n := eval[int](p, `document.querySelectorAll("#members-h ~ .page tbody tr").length`); n != 9 {
		t.Errorf("members shown: %d, want 9", n)
	}
	if label := eval[string](p, `document.querySelector("svg.chart").getAttribute("aria-label")`); !strings.HasPrefix(label, "Channels: EMAIL: 6") {
		t.Errorf("channel chart: %q", label)
	}
	p.screenshot("segment")

	// Import segment from an S3 URL, as the spec's procedure does: the JSON file
	// just uploaded, into another segment.
	var jsonURL string
	for _, id := range jobs {
		j, err := c.GetImportJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Definition.Format == "JSON" {
			jsonURL = j.Definition.S3Url
		}
	}
	p.open("#/import", "Import segment")
	p.do("fill the S3 form",
		chromedp.SendKeys(chromedp.CSS("#segment-name"), "browser from s3"+run),
		chromedp.SendKeys(chromedp.CSS("#s3-url"), jsonURL),
		chromedp.SendKeys(chromedp.CSS("#role-arn"), "arn:aws:iam::111122223333:role/segport-source-read"),
		chromedp.SetValue(chromedp.CSS("#s3-format"), "JSON"))
	s3Jobs := p.importAndWait("browser from s3"+run, 1)
	// A bucket the stack does not import from: the API's message, on the form.
	p.open("#/import", "Import segment")
	p.expectFailed = "/v1/jobs/import"
	p.do("fill the S3 form with another bucket",
		chromedp.SendKeys(chromedp.CSS("#segment-name"), "elsewhere"),
		chromedp.SendKeys(chromedp.CSS("#s3-url"), "s3://another-bucket/folder/"),
		chromedp.Click(chromedp.CSS("#import-submit")))
	p.until("the API's message", `document.querySelector('#import-form [role="alert"]')`)
	if got := eval[string](p, `document.querySelector('#import-form [role="alert"]').textContent`); got != "S3Url: imports come from the bucket segport" {
		t.Errorf("another bucket: %q", got)
	}
	if j, err := c.GetImportJob(context.Background(), s3Jobs[0]); err != nil || j.TotalProcessed != 5 || j.Definition.S3Url != jsonURL || j.Definition.Format != "JSON" {
		t.Errorf("the S3 URL's job: %+v, %v", j, err)
	}

	// A file with bad rows: the dry run shows them, the report downloads.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("ChannelType,Address\nSMS,2065550182\nFAX,123\nEMAIL,not-an-email\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.chooseFiles("browser bad rows"+run, bad)
	if got := p.dryRunSummary("bad.csv"); got != "CSV: 3 rows checked: 1 valid, 2 with errors." {
		t.Errorf("dry run of bad.csv: %q", got)
	}
	if got := eval[string](p, `document.querySelector('#preview tbody tr:nth-child(2)').textContent`); !strings.Contains(got, `3ChannelType: not one of`) {
		t.Errorf("dry run row 3: %q", got)
	}
	p.screenshot("import-errors")
	badJobs := p.importAndWait("browser bad rows"+run, 1)
	card := fmt.Sprintf(`article.card[data-job=%q]`, badJobs[0])
	if got := eval[string](p, `document.querySelector('`+card+` details summary').textContent`); got != "First failures (2 of 2)" {
		t.Errorf("failures summary: %q", got)
	}
	p.do("download the error report", chromedp.Click(chromedp.CSS(card+" a.report")))
	report := filepath.Join(p.shot, "segport-errors-"+badJobs[0]+".csv")
	deadline := time.Now().Add(30 * time.Second)
	var body []byte
	for {
		if body, err = os.ReadFile(report); err == nil && len(body) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error report downloaded to %s: %v", report, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range []string{"File,Line,Field,Message,Row\n", "/bad.csv,3,ChannelType,", ",4,Address,not a valid email address,"} {
		if !strings.Contains(string(body), w) {
			t.Errorf("error report lacks %q:\n%s", w, body)
		}
	}

	// Endpoints: one by id, and a user's.
	p.open("#/endpoints", "Endpoints")
	p.do("look up an endpoint", chromedp.SendKeys(chromedp.CSS("#endpoint-id"), "ep-bo-email"), chromedp.Click(chromedp.CSS("#endpoint-form button")))
	p.until("the endpoint", `document.querySelector("dl.endpoint")`)
	if f := p.facts(); f["Address"] != "bo.lindqvist@example.com" || f["User.UserId"] != "user-bo" {
		t.Errorf("endpoint ep-bo-email: %v", f)
	}
	p.screenshot("endpoint")
	p.do("look up a user", chromedp.SendKeys(chromedp.CSS("#user-id"), "user-ana"), chromedp.Click(chromedp.CSS("#user-form button")))
	p.until("the user's endpoints", `document.querySelectorAll("#lookup-result tbody tr").length === 2`)

	// Segments lists both, with their users and last import.
	p.open("#/segments", "Segments")
	p.until("the segments' users and imports", fmt.Sprintf(`Array.from(document.querySelectorAll("tbody tr")).some(r => r.textContent.startsWith(%q) && !/…/.test(r.textContent))`, segment))
	row := eval[string](p, fmt.Sprintf(`Array.from(document.querySelectorAll("tbody tr")).find(r => r.textContent.startsWith(%q)).textContent`, segment))
	if !strings.HasPrefix(row, segment+"292EMAIL 6, GCM 3, SMS 3, APNS 2") || !strings.HasSuffix(row, "COMPLETED") {
		t.Errorf("segments row: %q", row)
	}
	p.screenshot("segments")

	// Keyboard: the navigation is reachable with Tab, and Enter follows it.
	eval[any](p, `document.querySelector(".skip").focus()`)
	p.do("skip to the content", chromedp.KeyEvent("\r"))
	if got := eval[string](p, `location.hash + " " + document.activeElement.id + " " + document.querySelector("h1").textContent`); got != "#/segments main Segments" {
		t.Errorf("the skip link led to %q", got)
	}
	eval[any](p, `document.querySelector(".skip").focus()`)
	p.do("tab to the navigation", chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"))
	if got := eval[string](p, `document.activeElement.textContent`); got != "Import segment" {
		t.Errorf("two Tabs after the skip link focus %q, want the Import segment link", got)
	}
	p.do("follow it", chromedp.KeyEvent("\r"))
	p.until("Import segment by keyboard", `document.querySelector("h1").textContent === "Import segment" && document.activeElement === document.querySelector("h1")`)

	if errs := p.errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	t.Logf("screenshots in %s", p.shot)
}

// TestBrowserJobProgress shows a running job's progress bar move and the job end,
// without a reload: the API behind the console is scripted, so that each poll
// sees the job further on.
func TestBrowserJobProgress(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	running := func(written, parsed, rows int) string {
		return fmt.Sprintf(`{"Id":%q,"JobStatus":"PROCESSING","CreationDate":"2026-12-04T10:00:00.000Z","TotalPieces":4,"CompletedPieces":%d,"FailedPieces":0,"TotalProcessed":%d,"TotalFailures":0,"Failures":[],"Definition":{"S3Url":"s3://segport/imports/big/big.csv","Format":"CSV","SegmentId":"s1","SegmentName":"big"},"Progress":{"PiecesParsed":%d,"RowsParsed":%d},"Type":"IMPORT"}`,
			id, parsed/2, written, parsed, rows)
	}
	states := []string{
		running(0, 0, 0),
		running(1000, 2, 5000), // 2 of 4 pieces read: 10,000 rows expected
		running(6000, 4, 10000),
		fmt.Sprintf(`{"Id":%q,"JobStatus":"COMPLETED","CreationDate":"2026-12-04T10:00:00.000Z","CompletionDate":"2026-12-04T10:01:00.000Z","TotalPieces":4,"CompletedPieces":4,"FailedPieces":0,"TotalProcessed":9998,"TotalFailures":2,"Failures":["imports/big/big.csv:17: Address: not a valid email address","imports/big/big.csv:99: ChannelType: missing"],"Definition":{"S3Url":"s3://segport/imports/big/big.csv","Format":"CSV","SegmentId":"s1","SegmentName":"big"},"ErrorReport":"s3://segport/reports/%s.csv","Type":"IMPORT"}`, id, id),
	}
	var mu sync.Mutex
	polls := 0
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/segments" {
			fmt.Fprint(w, `{"Item":[]}`)
			return
		}
		if r.URL.Path != "/v1/jobs/import" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"Code":"NotFoundException","Message":"no route"}`)
			return
		}
		mu.Lock()
		state := states[min(polls, len(states)-1)]
		polls++
		mu.Unlock()
		fmt.Fprintf(w, `{"Item":[%s]}`, state)
	})
	srv := httptest.NewServer(console.New(console.Options{API: api, Bucket: "segport"}))
	t.Cleanup(srv.Close)
	p := newPage(t, srv.URL)
	// No segments yet: the page says how to make one.
	p.open("#/segments", "Segments")
	p.until("the empty state", `document.querySelector(".empty")`)
	if got := eval[string](p, `document.querySelector(".empty").textContent`); got != "No segments yet: drop a file into s3://segport/imports/NAME/ or use Import segment." {
		t.Errorf("empty Segments page: %q", got)
	}
	p.open("#/jobs", "Jobs")
	eval[any](p, `window.segportNoReload = true`)
	// Record every state of the card the page shows.
	eval[any](p, `window.seen = []; new MutationObserver(() => {
		const c = document.querySelector("article.card"); if (!c) return;
		const b = c.querySelector("progress");
		const s = c.dataset.status + " " + (b.hidden ? "-" : b.value + "/" + b.max) + " " + c.querySelector("p.row > span:last-child").textContent;
		if (window.seen[window.seen.length - 1] !== s) window.seen.push(s);
	}).observe(document.querySelector("main"), {subtree: true, childList: true, attributes: true, characterData: true})`)
	p.until("the job ends", `document.querySelector('article.card[data-status="COMPLETED"]')`)
	seen := eval[[]string](p, `window.seen`)
	if len(seen) > 0 && strings.HasPrefix(seen[0], "PROCESSING 0/1 ") { // the first poll may come before the observer
		seen = seen[1:]
	}
	want := []string{
		"PROCESSING 1000/10000 1,000/10,000 endpoints written (so far), 2/4 pieces read",
		"PROCESSING 6000/10000 6,000/10,000 endpoints written, 4/4 pieces read",
		"COMPLETED - 9,998 endpoints processed, 2 failed",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("the card showed\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	if !eval[bool](p, `window.segportNoReload === true`) {
		t.Error("the Jobs page reloaded")
	}
	if href := eval[string](p, `document.querySelector("a.report").getAttribute("href")`); href != "/console/api/jobs/"+id+"/report" {
		t.Errorf("report link %q", href)
	}
	if got := eval[string](p, `document.querySelector("article.card ul.failures").textContent`); got != "imports/big/big.csv:17: Address: not a valid email addressimports/big/big.csv:99: ChannelType: missing" {
		t.Errorf("failures: %q", got)
	}
	if errs := p.errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
