package dynamo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// WriteImportUsers writes many rows in few transactions, each row whole:
// a row whose condition fails gets its own error and leaves nothing behind,
// the other rows of its transaction are written, and a second attempt at
// the same rows (a redelivered chunk) writes nothing twice.
func TestWriteImportUsers(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	newUser := func(id, username, email, ext string) rekey.User {
		return rekey.User{ID: id, DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Status: rekey.StatusActive,
			FirstName: "F", LastName: "L", Username: username, Email: email, ExternalID: ext, Version: 1, CreatedAt: t0, UpdatedAt: t0}
	}
	held := newUser("held", "held.name", "held@example.org", "ext-held")
	if err := s.CreateUser(ctx, held, nil); err != nil {
		t.Fatal(err)
	}
	audit := func(id string) rekey.AuditEntry {
		return rekey.AuditEntry{ID: "audit-" + id, At: t0, DistrictID: "d1", TargetID: id, Action: rekey.ActionUserCreate, Outcome: rekey.OutcomeSuccess}
	}
	var writes []rekey.ImportWrite
	// 30 new users (over 100 items: two transactions), with three bad rows.
	for i := range 30 {
		id := fmt.Sprintf("new%02d", i)
		writes = append(writes, rekey.ImportWrite{After: newUser(id, "user."+id, id+"@example.org", "ext-"+id), Audit: audit(id)})
	}
	writes[3].After.Username = "held.name"      // taken
	writes[17].After.Email = "held@example.org" // taken
	stale := held
	renamed := held
	renamed.Version, renamed.FirstName = 2, "Renamed"
	stale.Version = 7 // not the stored version
	writes = append(writes, rekey.ImportWrite{Before: stale, After: rekey.User{}, Audit: audit("held")})
	writes[len(writes)-1].After = renamed
	writes[len(writes)-1].After.Version = 8
	errs, err := s.WriteImportUsers(ctx, writes)
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range errs {
		var want error
		switch i {
		case 3:
			want = rekey.ErrUsernameTaken
		case 17:
			want = rekey.ErrEmailTaken
		case 30:
			want = rekey.ErrVersionConflict
		}
		if want == nil && got != nil || want != nil && !errors.Is(got, want) {
			t.Errorf("row %d: error %v, want %v", i, got, want)
		}
	}
	found, err := s.FindUsers(ctx, "d1", []string{"ext-new00", "ext-new03", "ext-new17", "ext-new29"}, nil, []string{"new03@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, u := range found {
		got[u.ID] = true
	}
	if !got["new00"] || !got["new29"] || got["new03"] || got["new17"] || len(got) != 2 {
		t.Errorf("found %v, want new00 and new29 only (failed rows leave no user or claim)", got)
	}
	if u, err := s.GetUser(ctx, "held"); err != nil || u.FirstName != "F" || u.Version != 1 {
		t.Errorf("held = %+v, %v; want untouched", u, err)
	}
	if page, err := s.ListAudit(ctx, "new05", 10, ""); err != nil || len(page.Items) != 1 {
		t.Errorf("audit of new05 = %+v, %v; want one entry", page.Items, err)
	}
	// The same rows again: every create now collides with itself.
	errs, err = s.WriteImportUsers(ctx, writes[:2])
	if err != nil || !errors.Is(errs[0], rekey.ErrConflict) || !errors.Is(errs[1], rekey.ErrConflict) {
		t.Errorf("second attempt = %v, %v; want a conflict per row", errs, err)
	}
}

// PutImportChunk stores a chunk before its task exists (Start writes a
// file's chunks as it reads it), once: the same chunk again is a
// conflict, and a chunk without a valid task id or creation time is
// refused with nothing written.
func TestPutImportChunk(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	id := rekey.NewID()
	for i, rows := range []string{`[{"row":2}]`, `[{"row":3}]`} {
		if err := s.PutImportChunk(ctx, id, t0, rekey.ImportChunk{TaskID: id, Index: i, Rows: []byte(rows)}); err != nil {
			t.Fatalf("PutImportChunk(%d): %v", i, err)
		}
	}
	if err := s.PutImportChunk(ctx, id, t0, rekey.ImportChunk{TaskID: id, Index: 1, Rows: []byte(`[]`)}); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("PutImportChunk of a chunk already written = %v, want ErrConflict", err)
	}
	c, err := s.GetImportChunk(ctx, id, 1)
	if err != nil || string(c.Rows) != `[{"row":3}]` || c.Done {
		t.Errorf("GetImportChunk = %+v, %v; want the first rows written, not done", c, err)
	}
	for _, bad := range []struct {
		id string
		at time.Time
	}{{"", t0}, {"not an id!", t0}, {id, time.Time{}}} {
		if err := s.PutImportChunk(ctx, bad.id, bad.at, rekey.ImportChunk{Index: 5, Rows: []byte(`[]`)}); err == nil {
			t.Errorf("PutImportChunk(%q, %v) succeeded", bad.id, bad.at)
		}
	}
	if _, err := s.GetImportChunk(ctx, id, 5); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("refused chunk stored: %v", err)
	}
}
