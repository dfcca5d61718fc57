package bulk

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/rekey"
)

// pdfText is the text pdftotext reads from a PDF.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "letters.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v (is poppler-utils installed?)", err)
	}
	return string(out)
}

func TestLettersPDF(t *testing.T) {
	ctx := context.Background()
	w := newScopeWorld(t)
	// Names as imports bring them: accents, Cyrillic, right-to-left,
	// formula-like and markup-like.
	chunks, err := w.store.ListChunks(ctx, w.taskID, 0, 1)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("chunks of the task: %v, %v", chunks, err)
	}
	entries := chunks[0].Entries
	entries[0].Result.FirstName, entries[0].Result.LastName, entries[0].Result.Grade = "=1+1", "<script>alert(1)</script>", "2"
	entries[1].Result.FirstName, entries[1].Result.LastName = "Zoë Юлия", "\u202bכהן\u202c"
	w.store.SeedTask(w.store.task(w.taskID), nil, chunks[0])
	creator := w.store.user("sa1")
	var buf bytes.Buffer
	if err := w.svc.LettersPDF(ctx, creator, w.taskID, "https://console.example.org/", &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", buf.Bytes()[:min(20, buf.Len())])
	}
	text := pdfText(t, buf.Bytes())
	for _, want := range []string{"=1+1", "<script>alert(1)</script>", "Zoë Юлия", "amber-otter-42", "quiet-harbour-97",
		"ty.chalk", "https://console.example.org/"} {
		if !strings.Contains(text, want) {
			t.Errorf("letters lack %q:\n%s", want, text)
		}
	}

	// The same access as the CSV: another district's admin sees no task;
	// a guardian and a student neither.
	guardian := rekey.User{ID: "g1", DistrictID: "d1", Role: rekey.RoleGuardian, Status: rekey.StatusActive, GuardianOf: []string{"st1"}}
	for _, viewer := range []rekey.User{w.store.user("da2"), guardian, w.store.user("st1")} {
		if err := w.svc.LettersPDF(ctx, viewer, w.taskID, "https://console.example.org/", &bytes.Buffer{}); rekey.ErrorCode(err) != rekey.ECodeNotFound {
			t.Errorf("LettersPDF(%s) = %v, want not_found", viewer.ID, err)
		}
	}
	// Someone who sees the task but is not its creator gets no passwords,
	// so no letters.
	if err := w.svc.LettersPDF(ctx, w.store.user("sa1b"), w.taskID, "https://console.example.org/", &bytes.Buffer{}); rekey.ErrorCode(err) != rekey.ECodeConflict {
		t.Errorf("LettersPDF(another school admin) = %v, want conflict", err)
	}
	// After the 24-hour window the creator gets none either.
	later, err := NewService(ServiceDeps{Store: w.store, Plans: &fakeQueue{}, Keys: kmskeys.New(fakeKMS{}, "key"),
		Now: func() time.Time { return time.Date(2026, 9, 2, 8, 0, 1, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := later.LettersPDF(ctx, creator, w.taskID, "https://console.example.org/", &bytes.Buffer{}); rekey.ErrorCode(err) != rekey.ECodeConflict {
		t.Errorf("LettersPDF after 24 h = %v, want conflict", err)
	}
	// An email-link task has no letters.
	rec := w.store.task(w.taskID)
	rec.Task.Delivery.Mode = rekey.DeliverEmailLink
	w.store.SeedTask(rec, nil)
	if err := w.svc.LettersPDF(ctx, creator, w.taskID, "https://console.example.org/", &bytes.Buffer{}); rekey.ErrorCode(err) != rekey.ECodeInvalidInput {
		t.Errorf("LettersPDF(email task) = %v, want invalid_input", err)
	}
	// A default-password task prints cards without a password.
	rec.Task.Delivery.Mode = rekey.DeliverDefaultPassword
	w.store.SeedTask(rec, nil)
	buf.Reset()
	if err := w.svc.LettersPDF(ctx, w.store.user("sa1b"), w.taskID, "https://console.example.org/", &buf); err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, buf.Bytes()); strings.Contains(text, "amber-otter-42") || !strings.Contains(text, "ty.chalk") {
		t.Errorf("default-password letters:\n%s", text)
	}
}

// A guardian, even one linked to every user of a task, starts no bulk
// reset and sees no task, its results or its CSV.
func TestGuardianHasNoBulkOrTasks(t *testing.T) {
	ctx := context.Background()
	w := newScopeWorld(t)
	g := rekey.User{ID: "g1", DistrictID: "d1", Role: rekey.RoleGuardian, Status: rekey.StatusActive, GuardianOf: []string{"st1"}}
	st1 := w.store.user("st1")
	st1.Guardians = []string{"g1"}
	w.store.put(st1)
	for _, sel := range []rekey.Selection{{Mode: rekey.SelectSelected, UserIDs: []string{"st1"}}, {Mode: rekey.SelectAll}} {
		if _, err := w.svc.Start(ctx, g, sel, rekey.Delivery{Mode: rekey.DeliverGeneratedPasswords}, "", "r"); rekey.ErrorCode(err) != rekey.ECodeForbidden {
			t.Errorf("guardian Start(%s) = %v, want forbidden", sel.Mode, err)
		}
	}
	if page, err := w.svc.List(ctx, g, 0, ""); err != nil || len(page.Items) != 0 {
		t.Errorf("guardian List = %v, %v; want nothing", page.Items, err)
	}
	if _, err := w.svc.Get(ctx, g, w.taskID); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("guardian Get = %v, want not_found", err)
	}
	if _, err := w.svc.Results(ctx, g, w.taskID, 0, ""); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("guardian Results = %v, want not_found", err)
	}
	if err := w.svc.ResultsCSV(ctx, g, w.taskID, &bytes.Buffer{}); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("guardian ResultsCSV = %v, want not_found", err)
	}
	if _, err := w.svc.Cancel(ctx, g, w.taskID, "r"); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("guardian Cancel = %v, want not_found", err)
	}
}
