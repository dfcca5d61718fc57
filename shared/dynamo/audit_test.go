package dynamo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

func TestAudit(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)

	// 12 entries about u1, alternating between two actors, one per second;
	// one about u2; the times are written out of order.
	var want []rekey.AuditEntry // newest first
	for i := 11; i >= 0; i-- {
		e := rekey.AuditEntry{
			ID: fmt.Sprintf("a%02d", i), At: t0.Add(time.Duration(i) * time.Second), DistrictID: "d1",
			ActorID: []string{"admin1", "admin2"}[i%2], ActorName: "Admin", TargetID: "u1",
			Action: rekey.ActionUserUpdate, Outcome: rekey.OutcomeSuccess, RequestID: fmt.Sprintf("req-%d", i),
			Before: map[string]any{"firstName": "Ada", "grade": "", "mustChangePassword": false},
			After: map[string]any{"firstName": "Ada", "grade": "7", "mustChangePassword": true,
				"nested": map[string]any{"list": []any{"x", 2.5}}, "none": nil},
			Detail: "edited",
		}
		want = append(want, e)
	}
	for _, i := range []int{3, 0, 11, 7, 1, 2, 10, 4, 6, 9, 5, 8} {
		if err := s.PutAudit(ctx, want[11-i]); err != nil {
			t.Fatalf("PutAudit(%s) error: %v", want[11-i].ID, err)
		}
	}
	// admin1's oldest entry is about u2.
	other := rekey.AuditEntry{ID: "other", At: t0.Add(-time.Second), ActorID: "admin1", TargetID: "u2", Action: rekey.ActionResetLink, ClientIP: "192.0.2.7"}
	if err := s.PutAudit(ctx, other); err != nil {
		t.Fatalf("PutAudit(other) error: %v", err)
	}
	var byActor1 []rekey.AuditEntry
	for _, e := range want {
		if e.ActorID == "admin1" {
			byActor1 = append(byActor1, e)
		}
	}
	byActor1 = append(byActor1, other)

	for _, test := range []struct {
		name  string
		list  func(limit int, cursor string) (rekey.AuditPage, error)
		want  []rekey.AuditEntry
		limit int
	}{
		{"ListAudit(u1)", func(l int, c string) (rekey.AuditPage, error) { return s.ListAudit(ctx, "u1", l, c) }, want, 5},
		{"ListAudit(u1) default limit", func(l int, c string) (rekey.AuditPage, error) { return s.ListAudit(ctx, "u1", l, c) }, want, 0},
		{"ListAudit(u2)", func(l int, c string) (rekey.AuditPage, error) { return s.ListAudit(ctx, "u2", l, c) }, []rekey.AuditEntry{other}, 1},
		{"ListAudit(nobody)", func(l int, c string) (rekey.AuditPage, error) { return s.ListAudit(ctx, "nobody", l, c) }, nil, 3},
		{"ListAuditByActor(admin1)", func(l int, c string) (rekey.AuditPage, error) { return s.ListAuditByActor(ctx, "admin1", l, c) }, byActor1, 2},
	} {
		t.Run(test.name, func(t *testing.T) {
			var got []rekey.AuditEntry
			cursor, pages := "", 0
			for {
				page, err := test.list(test.limit, cursor)
				if err != nil {
					t.Fatalf("%s page %d error: %v", test.name, pages, err)
				}
				if most := rekey.AuditPaging.Clamp(test.limit); len(page.Items) > most {
					t.Fatalf("%s page %d has %d items, want at most %d", test.name, pages, len(page.Items), most)
				}
				got = append(got, page.Items...)
				pages++
				if cursor = page.Next; cursor == "" || pages > 50 {
					break
				}
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("%s over all pages mismatch (-want +got):\n%s", test.name, diff)
			}
		})
	}

	t.Run("foreign cursor", func(t *testing.T) {
		page, err := s.ListAudit(ctx, "u1", 2, "")
		if err != nil || page.Next == "" {
			t.Fatalf("ListAudit(u1, 2) = next %q, %v; want a cursor", page.Next, err)
		}
		actorPage, err := s.ListAuditByActor(ctx, "admin1", 2, "")
		if err != nil || actorPage.Next == "" {
			t.Fatalf("ListAuditByActor(admin1, 2) = next %q, %v; want a cursor", actorPage.Next, err)
		}
		for _, test := range []struct {
			name string
			list func() (rekey.AuditPage, error)
		}{
			{"u1 cursor for u2", func() (rekey.AuditPage, error) { return s.ListAudit(ctx, "u2", 2, page.Next) }},
			{"target cursor for actor", func() (rekey.AuditPage, error) { return s.ListAuditByActor(ctx, "admin1", 2, page.Next) }},
			{"admin1 cursor for admin2", func() (rekey.AuditPage, error) { return s.ListAuditByActor(ctx, "admin2", 2, actorPage.Next) }},
			{"garbage", func() (rekey.AuditPage, error) { return s.ListAudit(ctx, "u1", 2, "garbage") }},
		} {
			t.Run(test.name, func(t *testing.T) {
				_, err := test.list()
				if code := rekey.ErrorCode(err); code != rekey.ECodeInvalidCursor {
					t.Errorf("%s error = %v, want code %s", test.name, err, rekey.ECodeInvalidCursor)
				}
			})
		}
	})

	t.Run("filled in", func(t *testing.T) {
		clock.Set(t0.Add(time.Hour))
		if err := s.PutAudit(ctx, rekey.AuditEntry{TargetID: "u3", Action: rekey.ActionForgotRequested}); err != nil {
			t.Fatalf("PutAudit(no id, no time, no actor) error: %v", err)
		}
		page, err := s.ListAudit(ctx, "u3", 0, "")
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("ListAudit(u3) = %d items, %v; want 1", len(page.Items), err)
		}
		if got := page.Items[0]; got.ID == "" || !got.At.Equal(t0.Add(time.Hour)) {
			t.Errorf("stored entry ID %q At %v, want an ID and the clock's time %v", got.ID, got.At, t0.Add(time.Hour))
		}
		if err := s.PutAudit(ctx, want[0]); !errors.Is(err, rekey.ErrConflict) {
			t.Errorf("PutAudit(existing entry again) error = %v, want rekey.ErrConflict", err)
		}
	})
}

func TestAuditWrittenWithUserChanges(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u := sampleUser("u1", "dora", "dora@example.org")
	created := rekey.AuditEntry{ID: "c1", At: t0, ActorID: "admin", TargetID: "u1", Action: rekey.ActionUserCreate, After: u.AuditView()}
	if err := s.CreateUser(ctx, u, &created); err != nil {
		t.Fatalf("CreateUser() error: %v", err)
	}
	after := u
	after.Version, after.Grade = 2, "8"
	updated := rekey.AuditEntry{ID: "e1", At: t0.Add(time.Minute), ActorID: "admin", TargetID: "u1",
		Action: rekey.ActionUserUpdate, Before: u.AuditView(), After: after.AuditView()}
	if err := s.UpdateUser(ctx, u, after, &updated); err != nil {
		t.Fatalf("UpdateUser() error: %v", err)
	}
	page, err := s.ListAudit(ctx, "u1", 0, "")
	if err != nil {
		t.Fatalf("ListAudit(u1) error: %v", err)
	}
	if diff := cmp.Diff([]rekey.AuditEntry{updated, created}, page.Items); diff != "" {
		t.Errorf("ListAudit(u1) mismatch (-want +got):\n%s", diff)
	}
}
