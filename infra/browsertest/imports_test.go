package browsertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rekey/rekey/shared/rekey"
)

func TestNewUserDialog(t *testing.T) {
	t.Parallel()
	admin := apiAdmin(t)
	tb := newTab(t)
	tb.signInAdmin()
	tb.waitUsersLoaded()
	tb.click("#users-new")
	tb.waitVisible("dialog#new-user-dialog #new-user-form")
	tb.choose("#new-role", "student")
	tb.fill("#new-first", "Brit")
	tb.fill("#new-last", "Browser")
	tb.fill("#new-username", "brit.browser")
	tb.fill("#new-email", "brit.browser@example.org")
	tb.choose("#new-school", "demo-school-1")
	tb.fill("#new-grade", "4")
	tb.screenshot("new-user-form")
	tb.click("#new-user-save")
	tb.waitGone("dialog#new-user-dialog")
	var page struct{ Items []rekey.User }
	admin.must(200, "GET", "/api/users?q=brit.browser", nil, &page)
	if len(page.Items) != 1 || page.Items[0].SchoolID != "demo-school-1" || page.Items[0].Grade != "4" {
		t.Errorf("created user = %+v, want brit.browser in demo-school-1, grade 4", page.Items)
	}
}

// openImports is a new tab, signed in as the district admin, on the
// imports screen.
func openImports(t *testing.T) *tab {
	t.Helper()
	tb := newTab(t)
	tb.signInAdmin()
	tb.goHash("#/imports")
	tb.waitVisible("#import-form")
	return tb
}

// previewImport chooses a file on the imports screen and asks for its
// preview (what names the step in a failure).
func (tb *tab) previewImport(what, file string) {
	tb.t.Helper()
	tb.do(what, chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{file}))
	tb.click("#import-preview")
}

// applyImport applies the previewed file, confirms, and waits for the note
// that the import started.
func (tb *tab) applyImport() {
	tb.t.Helper()
	tb.click("#import-apply")
	tb.waitVisible("dialog#confirm-dialog")
	tb.click("#confirm-ok")
	tb.waitVisible("#import-started")
}

func TestImportPreviewErrorsThenApply(t *testing.T) {
	t.Parallel()
	admin := apiAdmin(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(bad, []byte("username,firstName,lastName,role,school,email,nickname\nimp.ok,Ok,Row,student,demo-school-1,,x\nimp.bad,Bad,Row,student,demo-school-1,not-an-email,y\n"), 0o644)
	os.WriteFile(good, []byte("username,firstName,lastName,role,school,email\nimp.ok,Ok,Row,student,demo-school-1,\nimp.fine,Fine,Row,teacher,demo-school-2,imp.fine@example.org\n"), 0o644)

	tb := openImports(t)
	tb.previewImport("choose a file with an error", bad)
	tb.waitVisible("#import-errors")
	if got := tb.text("#import-errors tbody"); !strings.Contains(got, "invalid_email") || !strings.Contains(got, "3") {
		t.Errorf("errors table = %q, want row 3's invalid_email", got)
	}
	if got := tb.text("#import-ignored-columns"); !strings.Contains(got, "nickname") {
		t.Errorf("ignored columns = %q, want nickname", got)
	}
	if evalT[bool](tb, `!!document.querySelector('#import-apply')`) {
		t.Error("a file with errors can be applied")
	}
	tb.screenshot("import-preview-errors")

	tb.previewImport("choose a good file", good)
	tb.waitVisible("#import-apply")
	if got := tb.text("#import-create"); !strings.HasPrefix(got, "2") {
		t.Errorf("create count = %q, want 2", got)
	}
	tb.screenshot("import-preview")
	tb.applyImport()
	tb.screenshot("import-started")
	var page struct{ Items []rekey.User }
	deadline := 0
	for deadline < 100 {
		admin.must(200, "GET", "/api/users?q=imp.fine", nil, &page)
		if len(page.Items) == 1 {
			break
		}
		tb.settle()
		deadline++
	}
	if len(page.Items) != 1 {
		t.Errorf("imp.fine was not imported: %+v", page.Items)
	}
}

// TestImportTaskShowsRows imports a users CSV that creates one user and
// changes another's email, opens the import from the task centre and reads
// its per-row results there (the file is named users.csv by the server): file, row, username, outcome and the change
// before → after; the bulk-only parts of the page stay hidden.
func TestImportTaskShowsRows(t *testing.T) {
	t.Parallel()
	existing := claimStudent(t, true)
	newEmail := "imptask.changed@example.org"
	csv := filepath.Join(t.TempDir(), "rows.csv")
	body := "username,firstName,lastName,role,school,email\n" +
		"imptask.new,Task,Row,teacher,demo-school-2,imptask.new@example.org\n" +
		fmt.Sprintf("%s,%s,%s,student,%s,%s\n", existing.Username, existing.FirstName, existing.LastName, existing.SchoolID, newEmail)
	if err := os.WriteFile(csv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	tb := openImports(t)
	tb.previewImport("choose the users CSV", csv)
	tb.waitVisible("#import-apply")
	tb.applyImport()
	href := evalT[string](tb, `document.querySelector('#import-started a').getAttribute('href')`)
	id := strings.TrimPrefix(href, "#/tasks/")
	if id == href || id == "" {
		t.Fatalf("the started note links to %q, want #/tasks/{id}", href)
	}

	// Open it from the task centre, as an admin would.
	tb.goHash("#/tasks")
	link := fmt.Sprintf("#task-link-%s", id)
	tb.waitVisible(link)
	tb.click(link)
	tb.waitText("#task-results-status", "2 rows shown (all)")
	rows := evalT[[][]string](tb, `[...document.querySelectorAll('#task-import-results tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent.trim()))`)
	want := map[string][]string{
		"imptask.new":     {"users.csv", "2", "imptask.new", "Created"},
		existing.Username: {"users.csv", "3", existing.Username, "Updated"},
	}
	if len(rows) != 2 {
		t.Fatalf("import rows = %q, want 2", rows)
	}
	for _, r := range rows {
		w, ok := want[r[2]]
		if !ok || fmt.Sprint(r[:4]) != fmt.Sprint(w) {
			t.Errorf("row %q, want %q", r, w)
		}
	}
	for _, r := range rows {
		if r[2] == existing.Username && !(strings.Contains(r[4], existing.Email) && strings.Contains(r[4], "→ "+newEmail)) {
			t.Errorf("changes of %s = %q, want email %s → %s", r[2], r[4], existing.Email, newEmail)
		}
	}
	hidden := evalT[[]string](tb, `['#task-funnel', '#task-results-state', '#task-follow-ups', '#task-csv', '#task-letters', '#task-results'].filter((s) => { const el = document.querySelector(s); return el && el.checkVisibility(); })`)
	if len(hidden) != 0 {
		t.Errorf("bulk-only parts shown on an import task: %v", hidden)
	}
	tb.screenshot("import-task-rows")
}
