package schedule_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule"
)

func TestCreate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	got := e.create(t, "sa1", autumn())
	want := rekey.Schedule{
		ID: got.ID, DistrictID: "d1", Name: "Autumn term resets",
		Expression: "cron(0 7 1 9 ? *)", Timezone: "Europe/London",
		Selection: rekey.Selection{Mode: rekey.SelectWithoutRole, UserIDs: []string{}, SchoolID: "s1"},
		Delivery:  rekey.Delivery{Mode: rekey.DeliverEmailLink},
		Enabled:   true, CreatedBy: "sa1", CreatedAt: t0, UpdatedAt: t0, Version: 1,
		// 07:00 BST is 06:00 UTC.
		NextRunAt: time.Date(2026, 9, 1, 6, 0, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Create() mismatch (-want +got):\n%s", diff)
	}
	stored, err := e.svc.Get(ctx, e.user(t, "sa1"), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("Get() after Create mismatch (-want +got):\n%s", diff)
	}
	audit, err := e.store.ListAudit(ctx, got.ID, 10, "")
	if err != nil || len(audit.Items) != 1 {
		t.Fatalf("ListAudit() = %+v, %v; want one entry", audit.Items, err)
	}
	if a := audit.Items[0]; a.Action != rekey.ActionScheduleCreate || a.ActorID != "sa1" || a.DistrictID != "d1" || a.RequestID != "req-create" || a.After["name"] != "Autumn term resets" {
		t.Errorf("audit entry = %+v, want schedule.create by sa1 in d1 with the new schedule", a)
	}

	t.Run("paused", func(t *testing.T) {
		in := autumn()
		in.Enabled = ptr(false)
		sc := e.create(t, "sa1", in)
		if sc.Enabled || !sc.NextRunAt.IsZero() {
			t.Errorf("Create(paused) = enabled %v, next %v; want paused with no next run", sc.Enabled, sc.NextRunAt)
		}
	})
	t.Run("rate anchored at creation", func(t *testing.T) {
		in := autumn()
		in.Expression = "rate(2 hours)"
		e.clock.Set(t0.Add(17*time.Minute + 42*time.Second))
		defer e.clock.Set(t0)
		sc := e.create(t, "da1", in)
		if want := t0.Add(2*time.Hour + 17*time.Minute); !sc.NextRunAt.Equal(want) {
			t.Errorf("Create(rate(2 hours)) next = %v, want %v", sc.NextRunAt, want)
		}
	})
	t.Run("without a time zone, the district's", func(t *testing.T) {
		in := autumn()
		in.Timezone = ""
		if sc := e.create(t, "da1", in); sc.Timezone != rekey.DefaultTimezone {
			t.Errorf("Create(no zone, district without settings) zone = %q, want %q", sc.Timezone, rekey.DefaultTimezone)
		}
		if err := e.store.PutDistrict(ctx, rekey.District{ID: "d1", Name: "North District", Timezone: "America/Chicago"}); err != nil {
			t.Fatal(err)
		}
		sc := e.create(t, "sa1", in)
		// 07:00 in Chicago (CDT) is 12:00 UTC.
		if sc.Timezone != "America/Chicago" || !sc.NextRunAt.Equal(time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("Create(no zone) = zone %q, next %v; want the district's America/Chicago, 12:00 UTC", sc.Timezone, sc.NextRunAt)
		}
		in.Timezone = "Europe/London"
		if sc := e.create(t, "sa1", in); sc.Timezone != "Europe/London" {
			t.Errorf("Create(named zone) zone = %q, want the one named", sc.Timezone)
		}
	})
	t.Run("support's schedule belongs to no district", func(t *testing.T) {
		in := autumn()
		in.Selection.SchoolID = "s3"
		sc := e.create(t, "sup", in)
		if sc.DistrictID != "" {
			t.Errorf("support's schedule district = %q, want none", sc.DistrictID)
		}
	})
	t.Run("selected users are deduplicated", func(t *testing.T) {
		in := autumn()
		in.Selection = rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2", "st1"}}
		sc := e.create(t, "sa1", in)
		if diff := cmp.Diff([]string{"st1", "st2"}, sc.Selection.UserIDs); diff != "" {
			t.Errorf("userIds (-want +got):\n%s", diff)
		}
	})
}

func TestCreateWho(t *testing.T) {
	e := newEnv(t)
	for _, test := range []struct {
		actor string
		ok    bool
	}{
		{"st1", false}, {"t1", false}, {"da1off", false},
		{"sa1", true}, {"da1", true}, {"sup", true},
	} {
		t.Run(test.actor, func(t *testing.T) {
			_, err := e.svc.Create(context.Background(), e.user(t, test.actor), autumn(), "req")
			if test.ok && err != nil {
				t.Errorf("Create(%s) error: %v, want success", test.actor, err)
			}
			if !test.ok && rekey.ErrorCode(err) != rekey.ECodeForbidden {
				t.Errorf("Create(%s) = %v, want forbidden", test.actor, err)
			}
		})
	}
}

func TestCreateInvalid(t *testing.T) {
	e := newEnv(t)
	manyIDs := make([]string, 5001)
	for i := range manyIDs {
		manyIDs[i] = "u" + strings.Repeat("x", i%10) + string(rune('a'+i%26))
	}
	for _, test := range []struct {
		name      string
		actor     string
		edit      func(*schedule.Input)
		wantField string
	}{
		{"default password is refused", "da1", func(in *schedule.Input) {
			in.Delivery = rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "a long and strong passphrase"}
		}, "delivery.mode"},
		{"default password without password", "da1", func(in *schedule.Input) { in.Delivery = rekey.Delivery{Mode: rekey.DeliverDefaultPassword} }, "delivery.mode"},
		{"password with email link", "da1", func(in *schedule.Input) { in.Delivery.DefaultPassword = "secret-secret-secret" }, "delivery.defaultPassword"},
		{"unknown delivery", "da1", func(in *schedule.Input) { in.Delivery.Mode = "carrier_pigeon" }, "delivery.mode"},
		{"no delivery", "da1", func(in *schedule.Input) { in.Delivery = rekey.Delivery{} }, "delivery.mode"},
		{"bad time zone", "da1", func(in *schedule.Input) { in.Timezone = "Europe/Atlantis" }, "timezone"},
		{"Local time zone", "da1", func(in *schedule.Input) { in.Timezone = "Local" }, "timezone"},
		{"bad expression", "da1", func(in *schedule.Input) { in.Expression = "cron(0 7 1 9 * *)" }, "expression"},
		{"no expression", "da1", func(in *schedule.Input) { in.Expression = "" }, "expression"},
		{"expression in the past", "da1", func(in *schedule.Input) { in.Expression = "cron(0 7 1 9 ? 2025)" }, "expression"},
		{"expression that never runs", "da1", func(in *schedule.Input) { in.Expression = "cron(0 7 30 2 ? *)" }, "expression"},
		{"every minute", "da1", func(in *schedule.Input) { in.Expression = "rate(1 minute)" }, "expression"},
		{"every minute by cron", "da1", func(in *schedule.Input) { in.Expression = "cron(* * * * ? *)" }, "expression"},
		{"twice an hour by cron", "da1", func(in *schedule.Input) { in.Expression = "cron(0,30 7 1 9 ? *)" }, "expression"},
		{"no name", "da1", func(in *schedule.Input) { in.Name = "   " }, "name"},
		{"long name", "da1", func(in *schedule.Input) { in.Name = strings.Repeat("é", 101) }, "name"},
		{"control in name", "da1", func(in *schedule.Input) { in.Name = "Autumn\nresets" }, "name"},
		{"bidi override in name", "da1", func(in *schedule.Input) { in.Name = "Autumn \u202eresets" }, "name"},
		{"no selection mode", "da1", func(in *schedule.Input) { in.Selection.Mode = "" }, "selection.mode"},
		{"unknown selection mode", "da1", func(in *schedule.Input) { in.Selection.Mode = "everyone" }, "selection.mode"},
		{"selected without users", "da1", func(in *schedule.Input) { in.Selection = rekey.Selection{Mode: rekey.SelectSelected} }, "selection.userIds"},
		{"all with users", "da1", func(in *schedule.Input) {
			in.Selection = rekey.Selection{Mode: rekey.SelectAll, UserIDs: []string{"st1"}}
		}, "selection.userIds"},
		{"bad user id", "da1", func(in *schedule.Input) {
			in.Selection = rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"../st1"}}
		}, "selection.userIds"},
		{"too many users", "da1", func(in *schedule.Input) { in.Selection = rekey.Selection{Mode: rekey.SelectSelected, UserIDs: manyIDs} }, "selection.userIds"},
		{"unknown role", "da1", func(in *schedule.Input) { in.Selection.Role = "wizard" }, "selection.role"},
		{"without role but teachers", "da1", func(in *schedule.Input) { in.Selection.Role = rekey.RoleTeacher }, "selection.role"},
		{"control in grade", "da1", func(in *schedule.Input) { in.Selection.Grade = "7\x00" }, "selection.grade"},
		{"bad school id", "da1", func(in *schedule.Input) { in.Selection.SchoolID = "s 1" }, "selection.schoolId"},
		{"unknown school", "da1", func(in *schedule.Input) { in.Selection.SchoolID = "s9" }, "selection.schoolId"},
		{"school of another district", "da1", func(in *schedule.Input) { in.Selection.SchoolID = "s3" }, "selection.schoolId"},
		{"school admin, other school", "sa1", func(in *schedule.Input) { in.Selection.SchoolID = "s2" }, "selection.schoolId"},
	} {
		t.Run(test.name, func(t *testing.T) {
			in := autumn()
			test.edit(&in)
			_, err := e.svc.Create(context.Background(), e.user(t, test.actor), in, "req")
			var re *rekey.Error
			if !errors.As(err, &re) || re.Code != rekey.ECodeInvalidInput || re.Field != test.wantField || re.Message == "" {
				t.Fatalf("Create(%s) = %v, want invalid_input on %s", test.name, err, test.wantField)
			}
			if strings.Contains(re.Message, "passphrase") || strings.Contains(re.Message, "secret-secret") {
				t.Errorf("Create(%s) message %q echoes the password", test.name, re.Message)
			}
		})
	}
	page, err := e.svc.List(context.Background(), e.user(t, "sup"), 0, "")
	if err != nil || len(page.Items) != 0 {
		t.Errorf("List() after refused creates = %d schedules, %v; want none", len(page.Items), err)
	}
}

func TestDefaultPasswordMessageSaysWhy(t *testing.T) {
	e := newEnv(t)
	in := autumn()
	in.Delivery = rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "a long and strong passphrase"}
	_, err := e.svc.Create(context.Background(), e.user(t, "da1"), in, "req")
	if msg := rekey.ErrorMessage(err); !strings.Contains(msg, "must not hold a password") || !strings.Contains(msg, "email_link") {
		t.Errorf("Create(default_password) message = %q, want it to say why and what to use", msg)
	}
}

// TestVisibility checks who sees, edits and deletes a school admin's
// schedule: its creator, the district admins of its district and support;
// nobody else, not even another school admin of the same school.
func TestVisibility(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	for _, test := range []struct {
		actor string
		sees  bool
	}{
		{"sa1", true}, {"da1", true}, {"sup", true},
		{"sa1peer", false}, {"sa2", false}, {"da2", false}, {"da1off", false}, {"t1", false}, {"st1", false},
	} {
		t.Run(test.actor, func(t *testing.T) {
			actor := e.user(t, test.actor)
			_, err := e.svc.Get(ctx, actor, sc.ID)
			if test.sees != (err == nil) || !test.sees && !errors.Is(err, rekey.ErrNotFound) {
				t.Errorf("Get(%s) = %v, want visible %v (else not found)", test.actor, err, test.sees)
			}
			page, err := e.svc.List(ctx, actor, 0, "")
			listed := err == nil && len(page.Items) == 1 && page.Items[0].ID == sc.ID
			if test.sees != listed {
				t.Errorf("List(%s) = %+v, %v; want listed %v", test.actor, page.Items, err, test.sees)
			}
			if !test.sees {
				if _, err := e.svc.Update(ctx, actor, sc.ID, schedule.Patch{Name: ptr("Hijacked"), Version: ptr(1)}, "req"); !errors.Is(err, rekey.ErrNotFound) {
					t.Errorf("Update(%s) = %v, want not found", test.actor, err)
				}
				if err := e.svc.Delete(ctx, actor, sc.ID, "req"); !errors.Is(err, rekey.ErrNotFound) {
					t.Errorf("Delete(%s) = %v, want not found", test.actor, err)
				}
			}
		})
	}
	if _, err := e.svc.Get(ctx, e.user(t, "sa1"), sc.ID); err != nil {
		t.Errorf("schedule after refused edits: %v", err)
	}
	for _, actor := range []string{"da1", "sup", "sa1"} {
		got, err := e.svc.Get(ctx, e.user(t, actor), sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Update(ctx, e.user(t, actor), sc.ID, schedule.Patch{Name: ptr("Edited by " + actor), Version: ptr(got.Version)}, "req"); err != nil {
			t.Errorf("Update(%s) error: %v", actor, err)
		}
	}
}

func TestListScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mine := e.create(t, "sa1", autumn())
	peer := e.create(t, "sa1peer", autumn())
	district := e.create(t, "da1", autumn())
	in := autumn()
	in.Selection.SchoolID = "s3"
	other := e.create(t, "da2", in)
	in.Selection.SchoolID = ""
	support := e.create(t, "sup", in)
	for _, test := range []struct {
		actor string
		want  []string
	}{
		{"sa1", []string{mine.ID}},
		{"da1", []string{mine.ID, peer.ID, district.ID}},
		{"da2", []string{other.ID}},
		{"sup", []string{support.ID, mine.ID, peer.ID, district.ID, other.ID}},
	} {
		t.Run(test.actor, func(t *testing.T) {
			var got []string
			cursor := ""
			for range 10 {
				page, err := e.svc.List(ctx, e.user(t, test.actor), 2, cursor)
				if err != nil {
					t.Fatal(err)
				}
				for _, sc := range page.Items {
					got = append(got, sc.ID)
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if diff := cmp.Diff(test.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("List(%s) (-want +got):\n%s", test.actor, diff)
			}
		})
	}
	for _, actor := range []string{"t1", "st1", "da1off"} {
		if _, err := e.svc.List(ctx, e.user(t, actor), 0, ""); !errors.Is(err, rekey.ErrForbidden) {
			t.Errorf("List(%s) = %v, want forbidden", actor, err)
		}
	}
	if _, err := e.svc.List(ctx, e.user(t, "da1"), 201, ""); rekey.ErrorCode(err) != rekey.ECodeInvalidInput {
		t.Errorf("List(limit 201) = %v, want invalid_input", err)
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.user(t, "da1")
	sc := e.create(t, "sa1", autumn())
	e.clock.Set(t0.Add(time.Hour))

	t.Run("version is required", func(t *testing.T) {
		_, err := e.svc.Update(ctx, admin, sc.ID, schedule.Patch{Name: ptr("x")}, "req")
		if re := (*rekey.Error)(nil); !errors.As(err, &re) || re.Field != "version" {
			t.Errorf("Update(no version) = %v, want invalid_input on version", err)
		}
	})
	t.Run("stale version", func(t *testing.T) {
		if _, err := e.svc.Update(ctx, admin, sc.ID, schedule.Patch{Name: ptr("x"), Version: ptr(9)}, "req"); !errors.Is(err, rekey.ErrVersionConflict) {
			t.Errorf("Update(stale) = %v, want version_conflict", err)
		}
	})
	t.Run("nothing changed", func(t *testing.T) {
		got, err := e.svc.Update(ctx, admin, sc.ID, schedule.Patch{Name: ptr(" Autumn term resets "), Enabled: ptr(true), Version: ptr(1)}, "req")
		if err != nil || got.Version != 1 {
			t.Errorf("Update(no change) = version %d, %v; want version 1", got.Version, err)
		}
	})
	t.Run("invalid fields", func(t *testing.T) {
		for field, patch := range map[string]schedule.Patch{
			"delivery.mode":  {Delivery: &rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "a long and strong passphrase"}},
			"timezone":       {Timezone: ptr("Nowhere/Special")},
			"expression":     {Expression: ptr("rate(30 minutes)")},
			"name":           {Name: ptr("")},
			"selection.mode": {Selection: &rekey.Selection{}},
		} {
			patch.Version = ptr(1)
			_, err := e.svc.Update(ctx, admin, sc.ID, patch, "req")
			if re := (*rekey.Error)(nil); !errors.As(err, &re) || re.Code != rekey.ECodeInvalidInput || re.Field != field {
				t.Errorf("Update(bad %s) = %v, want invalid_input on %s", field, err, field)
			}
		}
	})

	renamed, err := e.svc.Update(ctx, admin, sc.ID, schedule.Patch{Name: ptr("Renamed"), Version: ptr(1)}, "req-rename")
	if err != nil {
		t.Fatalf("Update(rename) error: %v", err)
	}
	if renamed.Version != 2 || renamed.Name != "Renamed" || !renamed.NextRunAt.Equal(sc.NextRunAt) || !renamed.UpdatedAt.Equal(t0.Add(time.Hour)) || renamed.CreatedBy != "sa1" {
		t.Errorf("Update(rename) = %+v, want version 2, same next run, creator kept", renamed)
	}

	e.clock.Set(t0.Add(2 * time.Hour))
	retimed, err := e.svc.Update(ctx, admin, sc.ID, schedule.Patch{Expression: ptr("cron(30 8 ? * MON-FRI *)"), Timezone: ptr("America/New_York"), Version: ptr(2)}, "req")
	if err != nil {
		t.Fatalf("Update(retime) error: %v", err)
	}
	// 1 August 2026 is a Saturday: next is Monday 3 August, 08:30 EDT.
	if want := time.Date(2026, 8, 3, 12, 30, 0, 0, time.UTC); !retimed.NextRunAt.Equal(want) {
		t.Errorf("Update(retime) next = %v, want %v", retimed.NextRunAt, want)
	}

	e.clock.Set(t0.Add(3 * time.Hour))
	paused, err := e.svc.Update(ctx, admin, sc.ID, schedule.Patch{Enabled: ptr(false), Version: ptr(3)}, "req")
	if err != nil || paused.Enabled || !paused.NextRunAt.IsZero() {
		t.Fatalf("Update(pause) = %+v, %v; want paused, no next run", paused, err)
	}
	if due, _ := e.store.DueSchedules(ctx, t0.AddDate(1, 0, 0), 10, ""); len(due.Items) != 0 {
		t.Errorf("DueSchedules() after pause = %d, want 0", len(due.Items))
	}
	e.clock.Set(time.Date(2026, 8, 10, 13, 0, 0, 0, time.UTC))
	resumed, err := e.svc.Update(ctx, admin, sc.ID, schedule.Patch{Enabled: ptr(true), Version: ptr(4)}, "req")
	if err != nil {
		t.Fatal(err)
	}
	// Resumed on Monday 10 August after 08:30 EDT: the next is Tuesday's.
	if want := time.Date(2026, 8, 11, 12, 30, 0, 0, time.UTC); !resumed.Enabled || !resumed.NextRunAt.Equal(want) {
		t.Errorf("Update(resume) = enabled %v next %v, want enabled, next %v", resumed.Enabled, resumed.NextRunAt, want)
	}

	audit, err := e.store.ListAudit(ctx, sc.ID, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit.Items {
		actions = append(actions, a.Action)
	}
	want := []string{rekey.ActionScheduleUpdate, rekey.ActionScheduleUpdate, rekey.ActionScheduleUpdate, rekey.ActionScheduleUpdate, rekey.ActionScheduleCreate}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("audit actions (-want +got):\n%s", diff)
	}
	rename := audit.Items[3]
	if diff := cmp.Diff(map[string]any{"name": "Autumn term resets"}, rename.Before); diff != "" || rename.After["name"] != "Renamed" || rename.ActorID != "da1" || rename.RequestID != "req-rename" {
		t.Errorf("rename audit = %+v (before diff %s), want name before and after, by da1", rename, diff)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sc := e.create(t, "sa1", autumn())
	e.clock.Set(t0.Add(time.Minute))
	if err := e.svc.Delete(ctx, e.user(t, "da1"), sc.ID, "req-delete"); err != nil {
		t.Fatalf("Delete() error: %v", err)
	}
	if _, err := e.svc.Get(ctx, e.user(t, "sa1"), sc.ID); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want not found", err)
	}
	if err := e.svc.Delete(ctx, e.user(t, "da1"), sc.ID, "req"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("Delete(deleted) = %v, want not found", err)
	}
	audit, err := e.store.ListAudit(ctx, sc.ID, 10, "")
	if err != nil || len(audit.Items) != 2 || audit.Items[0].Action != rekey.ActionScheduleDelete || audit.Items[0].Before["name"] != sc.Name {
		t.Errorf("audit after delete = %+v, %v; want schedule.delete with the schedule before", audit.Items, err)
	}
}

// TestCreatorMovedAway: a schedule's creator keeps it only while it lies
// where they now stand (SECURITY.md 21): moved to another school or
// district, or demoted, they no longer see, list, edit or delete it, while
// the district admin still does. A school admin's schedule saved without a
// school is bound to theirs, so that it cannot follow them elsewhere.
func TestCreatorMovedAway(t *testing.T) {
	for _, test := range []struct {
		name   string
		change func(u *rekey.User)
		sees   bool
	}{
		{"stays", func(*rekey.User) {}, true},
		{"promoted to district admin", func(u *rekey.User) { u.Role, u.SchoolID = rekey.RoleDistrictAdmin, "" }, true},
		{"moved to another school", func(u *rekey.User) { u.SchoolID = "s2" }, false},
		{"moved to another district", func(u *rekey.User) { u.DistrictID, u.SchoolID = "d2", "s3" }, false},
		{"demoted to teacher", func(u *rekey.User) { u.Role = rekey.RoleTeacher }, false},
		{"disabled", func(u *rekey.User) { u.Status = rekey.StatusDisabled }, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			in := autumn()
			in.Selection.SchoolID = ""
			sc := e.create(t, "sa1", in)
			if sc.Selection.SchoolID != "s1" {
				t.Fatalf("school admin's schedule selection = %+v, want it bound to school s1", sc.Selection)
			}
			before, err := e.store.GetUser(ctx, "sa1")
			if err != nil {
				t.Fatal(err)
			}
			creator := before
			test.change(&creator)
			creator.Version++
			if err := e.store.UpdateUser(ctx, before, creator, nil); err != nil {
				t.Fatal(err)
			}

			_, err = e.svc.Get(ctx, creator, sc.ID)
			if test.sees != (err == nil) || !test.sees && !errors.Is(err, rekey.ErrNotFound) {
				t.Errorf("Get by the creator = %v, want visible %v (else not found)", err, test.sees)
			}
			page, err := e.svc.List(ctx, creator, 0, "")
			if listed := err == nil && len(page.Items) == 1; listed != test.sees {
				t.Errorf("List by the creator = %+v, %v; want listed %v", page.Items, err, test.sees)
			}
			if !test.sees {
				if _, err := e.svc.Update(ctx, creator, sc.ID, schedule.Patch{Enabled: ptr(true), Name: ptr("Still mine"), Version: ptr(sc.Version)}, "req"); !errors.Is(err, rekey.ErrNotFound) {
					t.Errorf("Update by the creator = %v, want not found", err)
				}
				if err := e.svc.Delete(ctx, creator, sc.ID, "req"); !errors.Is(err, rekey.ErrNotFound) {
					t.Errorf("Delete by the creator = %v, want not found", err)
				}
			}
			if _, err := e.svc.Get(ctx, e.user(t, "da1"), sc.ID); err != nil {
				t.Errorf("Get by the district admin = %v, want the schedule", err)
			}
		})
	}
}
