package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/district"
	"github.com/rekey/rekey/shared/rekey"
)

// storedDistrict returns district d1 as stored.
func (a *testAPI) storedDistrict() rekey.District {
	a.t.Helper()
	d, err := a.store.GetDistrict(context.Background(), "d1")
	if err != nil {
		a.t.Fatal(err)
	}
	return d
}

func TestDistrictSettingsRead(t *testing.T) {
	a := newTestAPI(t)
	admin := a.login("district.admin")
	rec := a.do("GET", "/api/district/settings", "", admin.bearer()...)
	// A district that never saved its settings has the defaults, the
	// kid-friendly grade 2 among them.
	want := rekey.DistrictSettings{KidFriendlyMaxGrade: rekey.DefaultKidFriendlyMaxGrade, MinLengthStaff: 15, MinLengthStudent: 8, Timezone: "UTC"}
	if got := decode[rekey.DistrictSettings](t, rec); rec.Code != 200 || got != want {
		t.Errorf("GET /api/district/settings = %d %+v, want 200 %+v", rec.Code, got, want)
	}
	for _, username := range []string{"teacher.one", "student.1"} {
		s := a.login(username)
		wantError(t, a.do("GET", "/api/district/settings", "", s.bearer()...), http.StatusForbidden, rekey.ECodeForbidden, "")
	}
	wantError(t, a.do("GET", "/api/district/settings", ""), http.StatusUnauthorized, rekey.ECodeUnauthenticated, "")
}

func TestDistrictSettingsUpdate(t *testing.T) {
	a := newTestAPI(t)
	admin := a.login("district.admin")
	body := `{"approvalThreshold":250,"kidFriendlyMaxGrade":3,"minLengthStaff":16,"minLengthStudent":10,"timezone":"America/Chicago","version":0}`
	rec := a.do("PATCH", "/api/district/settings", body, admin.bearer()...)
	want := rekey.DistrictSettings{ApprovalThreshold: 250, KidFriendlyMaxGrade: 3, MinLengthStaff: 16, MinLengthStudent: 10, Timezone: "America/Chicago", Version: 1}
	if got := decode[rekey.DistrictSettings](t, rec); rec.Code != 200 || got != want {
		t.Fatalf("PATCH = %d %s, want 200 %+v", rec.Code, rec.Body, want)
	}
	d := a.storedDistrict()
	if d.Settings() != want || d.Name != "Riverside Unified" || d.Policy.MaxLength != 0 {
		t.Errorf("stored district = %+v, want the settings %+v and its name and policy kept", d, want)
	}
	if d.Policy.StaffRaisedAt.IsZero() || d.Policy.StudentRaisedAt.IsZero() {
		t.Errorf("raised minimums were not dated: %+v", d.Policy)
	}
	var entry *rekey.AuditEntry
	for _, e := range a.store.Audit() {
		if e.Action == rekey.ActionSettingsUpdate {
			entry = &e
		}
	}
	if entry == nil || entry.ActorID != "dadmin" || entry.TargetID != "d1" || entry.DistrictID != "d1" {
		t.Fatalf("audit entry = %+v, want one settings entry by dadmin about d1", entry)
	}
	wantBefore := map[string]any{"approvalThreshold": 0, "kidFriendlyMaxGrade": rekey.DefaultKidFriendlyMaxGrade, "minLengthStaff": 15, "minLengthStudent": 8, "timezone": "UTC"}
	wantAfter := map[string]any{"approvalThreshold": 250, "kidFriendlyMaxGrade": 3, "minLengthStaff": 16, "minLengthStudent": 10, "timezone": "America/Chicago"}
	if diff := cmp.Diff(wantBefore, entry.Before); diff != "" {
		t.Errorf("audit before (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAfter, entry.After); diff != "" {
		t.Errorf("audit after (-want +got):\n%s", diff)
	}

	// The policy that password checks read is the one just set.
	rec = a.do("GET", "/api/password/policy", "", admin.bearer()...)
	if got := decode[rekey.PasswordPolicy](t, rec); got.MinLengthStaff != 16 || got.MinLengthStudent != 10 {
		t.Errorf("GET /api/password/policy = %s, want the new minimums", rec.Body)
	}

	// A change of one field keeps the others; the same values again write nothing.
	rec = a.do("PATCH", "/api/district/settings", `{"approvalThreshold":0,"version":1}`, admin.bearer()...)
	if got := decode[rekey.DistrictSettings](t, rec); rec.Code != 200 || got.ApprovalThreshold != 0 || got.Timezone != "America/Chicago" || got.Version != 2 {
		t.Errorf("PATCH approvalThreshold = %d %s", rec.Code, rec.Body)
	}
	audits := len(a.store.Audit())
	rec = a.do("PATCH", "/api/district/settings", `{"approvalThreshold":0,"version":2}`, admin.bearer()...)
	if got := decode[rekey.DistrictSettings](t, rec); rec.Code != 200 || got.Version != 2 || len(a.store.Audit()) != audits {
		t.Errorf("PATCH without a change = %d %s, %d audit entries (want %d): want version 2 kept and no entry", rec.Code, rec.Body, len(a.store.Audit()), audits)
	}
}

func TestDistrictSettingsBadInput(t *testing.T) {
	for _, test := range []struct {
		name     string
		username string
		path     string
		body     string
		status   int
		code     string
		field    string
	}{
		{"threshold below 0", "", "", `{"approvalThreshold":-1,"version":0}`, 422, rekey.ECodeInvalidInput, "approvalThreshold"},
		{"threshold too high", "", "", `{"approvalThreshold":1000001,"version":0}`, 422, rekey.ECodeInvalidInput, "approvalThreshold"},
		{"grade below K", "", "", `{"kidFriendlyMaxGrade":-1,"version":0}`, 422, rekey.ECodeInvalidInput, "kidFriendlyMaxGrade"},
		{"grade above 12", "", "", `{"kidFriendlyMaxGrade":13,"version":0}`, 422, rekey.ECodeInvalidInput, "kidFriendlyMaxGrade"},
		{"staff minimum too short", "", "", `{"minLengthStaff":7,"version":0}`, 422, rekey.ECodeInvalidInput, "minLengthStaff"},
		{"staff minimum too long", "", "", `{"minLengthStaff":65,"version":0}`, 422, rekey.ECodeInvalidInput, "minLengthStaff"},
		{"student minimum too short", "", "", `{"minLengthStudent":5,"version":0}`, 422, rekey.ECodeInvalidInput, "minLengthStudent"},
		{"student minimum too long", "", "", `{"minLengthStudent":65,"version":0}`, 422, rekey.ECodeInvalidInput, "minLengthStudent"},
		{"unknown time zone", "", "", `{"timezone":"Mars/Olympus_Mons","version":0}`, 422, rekey.ECodeInvalidInput, "timezone"},
		{"machine time zone", "", "", `{"timezone":"Local","version":0}`, 422, rekey.ECodeInvalidInput, "timezone"},
		{"empty time zone", "", "", `{"timezone":"","version":0}`, 422, rekey.ECodeInvalidInput, "timezone"},
		{"one bad field among good ones", "", "", `{"approvalThreshold":10,"minLengthStaff":3,"version":0}`, 422, rekey.ECodeInvalidInput, "minLengthStaff"},
		{"no version", "", "", `{"approvalThreshold":10}`, 422, rekey.ECodeInvalidInput, "version"},
		{"stale version", "", "", `{"approvalThreshold":10,"version":3}`, 409, rekey.ECodeVersionConflict, ""},
		{"unknown field", "", "", `{"approvalThreshold":10,"maxLength":200,"version":0}`, 400, rekey.ECodeUnknownField, "maxLength"},
		{"null", "", "", `{"approvalThreshold":null,"version":0}`, 422, rekey.ECodeInvalidInput, "approvalThreshold"},
		{"wrong type", "", "", `{"approvalThreshold":"10","version":0}`, 400, rekey.ECodeInvalidJSON, "approvalThreshold"},
		{"dry run in the query", "", "?dryRun=true", `{"approvalThreshold":10,"version":0}`, 400, rekey.ECodeUnknownField, "dryRun"},
		{"teacher", "teacher.one", "", `{"approvalThreshold":10,"version":0}`, 403, rekey.ECodeForbidden, ""},
		{"student", "student.1", "", `{"approvalThreshold":10,"version":0}`, 403, rekey.ECodeForbidden, ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			a := newTestAPI(t)
			username := test.username
			if username == "" {
				username = "district.admin"
			}
			s := a.login(username)
			before, audits := a.storedDistrict(), len(a.store.Audit())
			rec := a.do("PATCH", "/api/district/settings"+test.path, test.body, s.bearer()...)
			wantError(t, rec, test.status, test.code, test.field)
			if after := a.storedDistrict(); !cmp.Equal(after, before) {
				t.Errorf("district changed from %+v to %+v", before, after)
			}
			if n := len(a.store.Audit()); n != audits {
				t.Errorf("%d audit entries written, want none", n-audits)
			}
		})
	}
}

// TestPolicyTightening: raising a minimum length flags, at their next
// sign-in, exactly the users whose password was set under the old rule; the
// dry run counts them and writes nothing.
func TestPolicyTightening(t *testing.T) {
	a := newTestAPI(t)
	// st1 set theirs under a 10-character minimum, st2 under 8; st3–st6
	// (and everyone else) before minimums were recorded; tmp must change
	// theirs anyway; st7 is in another district.
	for id, minLength := range map[string]int{"st1": 10, "st2": 8} {
		u := a.store.user(id)
		u.PasswordMinLength = minLength
		u.Version++
		a.edit(u)
	}
	a.clock.Add(time.Minute)
	admin := a.login("district.admin")
	usersBefore := map[string]rekey.User{}
	for _, id := range []string{"st1", "st2", "st3", "st6", "teacher1"} {
		usersBefore[id] = a.store.user(id)
	}

	dry := func(body string) int {
		t.Helper()
		before, audits := a.storedDistrict(), len(a.store.Audit())
		rec := a.do("PATCH", "/api/district/settings", body, admin.bearer()...)
		got := decode[district.Result](t, rec)
		if rec.Code != 200 || !got.DryRun || got.UsersToChangePassword == nil {
			t.Fatalf("dry run %s = %d %s", body, rec.Code, rec.Body)
		}
		if after := a.storedDistrict(); !cmp.Equal(after, before) || len(a.store.Audit()) != audits {
			t.Errorf("dry run %s wrote: district %+v → %+v, %d audit entries", body, before, after, len(a.store.Audit())-audits)
		}
		return *got.UsersToChangePassword
	}
	for _, test := range []struct {
		body string
		want int
	}{
		{`{"minLengthStudent":10,"version":0,"dryRun":true}`, 5}, // st2, st3–st6
		{`{"minLengthStudent":11,"version":0,"dryRun":true}`, 6}, // and st1
		{`{"minLengthStudent":8,"version":0,"dryRun":true}`, 0},  // unchanged
		{`{"minLengthStudent":6,"version":0,"dryRun":true}`, 0},  // lowered
		{`{"minLengthStaff":16,"version":0,"dryRun":true}`, 3},   // dadmin, teacher1, teacher2 (tmp already must change)
		{`{"approvalThreshold":9,"version":0,"dryRun":true}`, 0},
	} {
		if got := dry(test.body); got != test.want {
			t.Errorf("dry run %s counts %d users, want %d", test.body, got, test.want)
		}
	}
	for id, before := range usersBefore {
		if after := a.store.user(id); !cmp.Equal(after, before) {
			t.Errorf("a dry run changed user %s", id)
		}
	}

	rec := a.do("PATCH", "/api/district/settings", `{"minLengthStudent":10,"version":0}`, admin.bearer()...)
	if rec.Code != 200 {
		t.Fatalf("PATCH minLengthStudent = %d %s", rec.Code, rec.Body)
	}
	for id, before := range usersBefore {
		if after := a.store.user(id); !cmp.Equal(after, before) {
			t.Errorf("raising the minimum wrote user %s; users are flagged at sign-in", id)
		}
	}
	a.clock.Add(time.Minute)
	signIn := func(username, password string) loginResponse {
		t.Helper()
		rec := a.do("POST", "/api/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, username, password))
		if rec.Code != 200 {
			t.Fatalf("login %s = %d %s", username, rec.Code, rec.Body)
		}
		return decode[loginResponse](t, rec)
	}
	for _, test := range []struct {
		username, id string
		want         bool
	}{
		{"student.1", "st1", false}, // set under 10
		{"student.2", "st2", true},  // set under 8
		{"student.6", "st6", true},  // set before minimums were recorded, before the raise
		{"teacher.one", "teacher1", false},
		{"student.7", "st7", false}, // another district
	} {
		got := signIn(test.username, goodPassword)
		stored := a.store.user(test.id)
		if got.MustChangePassword != test.want || stored.MustChangePassword != test.want {
			t.Errorf("sign-in of %s: mustChangePassword answered %v, stored %v; want %v", test.username, got.MustChangePassword, stored.MustChangePassword, test.want)
		}
	}
	flagged := 0
	for _, e := range a.store.Audit() {
		if e.Action == rekey.ActionPasswordOutdated {
			flagged++
			if e.TargetID != "st2" && e.TargetID != "st6" || e.After["mustChangePassword"] != true {
				t.Errorf("outdated-password entry %+v", e)
			}
		}
	}
	if flagged != 2 {
		t.Errorf("%d outdated-password audit entries, want 2", flagged)
	}

	// st2 is held to a password change, which records the new minimum: the
	// next sign-in is free.
	s := session{token: signIn("student.2", goodPassword).Token}
	wantError(t, a.do("GET", "/api/users/st2", "", s.bearer()...), 403, rekey.ECodePasswordChangeRequired, "")
	body := `{"currentPassword":"` + goodPassword + `","newPassword":"ten or more letters"}`
	if rec := a.do("POST", "/api/password/change", body, s.bearer()...); rec.Code != http.StatusNoContent {
		t.Fatalf("password change = %d %s", rec.Code, rec.Body)
	}
	if got := a.store.user("st2").PasswordMinLength; got != 10 {
		t.Errorf("after the change st2's recorded minimum = %d, want 10", got)
	}
	if got := signIn("student.2", "ten or more letters"); got.MustChangePassword {
		t.Error("sign-in after the change still must change the password")
	}
}
