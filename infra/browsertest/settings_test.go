package browsertest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestDistrictSettings: the district admin raises a minimum length and is
// shown how many people would have to choose a new password (the dry run),
// cancels, then saves another setting; a stale tab is told of the version
// conflict and reloads. The settings are put back afterwards, since the
// other tests share the district (and a raised minimum would send every
// demo user to a password change).
func TestDistrictSettings(t *testing.T) {
	t.Parallel()
	admin := apiAdmin(t)
	var start rekey.DistrictSettings
	admin.must(http.StatusOK, "GET", "/api/district/settings", nil, &start)
	t.Cleanup(func() {
		var now rekey.DistrictSettings
		admin.must(http.StatusOK, "GET", "/api/district/settings", nil, &now)
		admin.must(http.StatusOK, "PATCH", "/api/district/settings", map[string]any{
			"kidFriendlyMaxGrade": start.KidFriendlyMaxGrade, "minLengthStudent": start.MinLengthStudent, "version": now.Version,
		}, nil)
	})

	// Only district admins see the entry and the screen.
	teacher := demoUsers(func(u rekey.User) bool { return u.Role == rekey.RoleTeacher })[0]
	if status, _ := apiAs(t, teacher.Username, demoPassword).call("GET", "/api/district/settings", nil, nil); status != http.StatusForbidden {
		t.Errorf("GET /api/district/settings as a teacher = %d, want 403", status)
	}

	tb := newTab(t)
	tb.signInAdmin()
	tb.click("#nav-settings")
	tb.waitVisible("#settings-form")
	if got := tb.value("#settings-min-student"); got != strconv.Itoa(start.MinLengthStudent) {
		t.Errorf("#settings-min-student = %q, want %d", got, start.MinLengthStudent)
	}
	if got := tb.value("#settings-timezone"); got != start.Timezone {
		t.Errorf("#settings-timezone = %q, want %q", got, start.Timezone)
	}
	tb.screenshot("settings")

	// A value out of range is stopped next to its field.
	tb.fill("#settings-min-staff", "7")
	tb.click("#settings-save")
	tb.waitText("#settings-min-staff-error", "from 8 to 64")
	tb.fill("#settings-min-staff", strconv.Itoa(start.MinLengthStaff))

	// Raising the student minimum asks first, with the dry run's count.
	// Other tests change students meanwhile (a bulk reset voids passwords),
	// so the count shown must lie between dry runs made before and after.
	dryRun := func() int {
		var dry struct {
			UsersToChangePassword int `json:"usersToChangePassword"`
		}
		admin.must(http.StatusOK, "PATCH", "/api/district/settings", map[string]any{"minLengthStudent": start.MinLengthStudent + 4, "version": start.Version, "dryRun": true}, &dry)
		return dry.UsersToChangePassword
	}
	before := dryRun()
	tb.fill("#settings-min-student", strconv.Itoa(start.MinLengthStudent+4))
	tb.click("#settings-save")
	tb.waitVisible("dialog#confirm-dialog")
	msg := tb.waitText("#confirm-message", "at their next sign-in")
	after := dryRun()
	shown, err := strconv.Atoi(strings.ReplaceAll(strings.Fields(msg)[0], ",", ""))
	if err != nil || shown < min(before, after) || shown > max(before, after) || shown == 0 {
		t.Errorf("the confirmation says %q; the dry runs before and after count %d and %d", msg, before, after)
	}
	tb.screenshot("settings-raise-confirm")
	tb.click("#confirm-cancel")
	tb.waitGone("dialog#confirm-dialog")
	var now rekey.DistrictSettings
	admin.must(http.StatusOK, "GET", "/api/district/settings", nil, &now)
	if now != start {
		t.Fatalf("after Cancel the settings are %+v, want them unchanged %+v", now, start)
	}

	// Another setting saves at once.
	tb.fill("#settings-min-student", strconv.Itoa(start.MinLengthStudent))
	grade := (start.KidFriendlyMaxGrade + 2) % (rekey.MaxGrade + 1)
	tb.choose("#settings-kid-grade", strconv.Itoa(grade))
	tb.click("#settings-save")
	tb.waitText("#toast-region", "Settings saved")
	tb.waitText("#settings-version", "Version "+strconv.Itoa(start.Version+1))
	admin.must(http.StatusOK, "GET", "/api/district/settings", nil, &now)
	if now.KidFriendlyMaxGrade != grade || now.Version != start.Version+1 || now.MinLengthStudent != start.MinLengthStudent {
		t.Errorf("saved settings = %+v, want grade %d at version %d", now, grade, start.Version+1)
	}

	// A change made elsewhere meanwhile: this tab is told, and reloads.
	admin.must(http.StatusOK, "PATCH", "/api/district/settings", map[string]any{"kidFriendlyMaxGrade": start.KidFriendlyMaxGrade, "version": now.Version}, nil)
	stop := tb.expectHTTP(http.StatusConflict)
	tb.choose("#settings-kid-grade", strconv.Itoa((grade+1)%(rekey.MaxGrade+1)))
	tb.click("#settings-save")
	tb.waitText("#settings-error", "Someone else changed")
	stop()
	tb.screenshot("settings-conflict")
	tb.click("#settings-reload")
	tb.waitText("#settings-version", "Version "+strconv.Itoa(start.Version+2))
	if got := tb.value("#settings-kid-grade"); got != strconv.Itoa(start.KidFriendlyMaxGrade) {
		t.Errorf("after Reload #settings-kid-grade = %q, want %d", got, start.KidFriendlyMaxGrade)
	}
}
