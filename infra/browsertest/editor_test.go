package browsertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestEditWithAFieldErrorAndAVersionConflict(t *testing.T) {
	t.Parallel()
	student := claimStudent(t, true)
	admin := apiAdmin(t)
	tb := adminTabAt(t, student)

	tb.click("#name-" + student.ID)
	tb.waitVisible("dialog#editor #edit-form")
	tb.waitFor("the focus in the editor", `document.activeElement?.id === 'edit-firstName'`)
	if got := tb.value("#edit-email"); got != student.Email {
		t.Errorf("#edit-email = %q, want %q", got, student.Email)
	}

	// A bad email is refused by the server and shown next to the field.
	tb.expectHTTP(http.StatusUnprocessableEntity, http.StatusConflict)
	tb.fill("#edit-email", "not-an-email")
	tb.click("#edit-save")
	tb.waitVisible("#edit-email-error")
	msg := tb.text("#edit-email-error")
	if !strings.Contains(strings.ToLower(msg), "email") {
		t.Errorf("#edit-email-error = %q, want a message about the email", msg)
	}
	field := evalT[struct {
		Invalid     string
		DescribedBy string
		Focused     bool
	}](tb, `(() => { const c = document.querySelector('#edit-email'); return { invalid: c.getAttribute('aria-invalid'), describedBy: c.getAttribute('aria-describedby') || '', focused: document.activeElement === c }; })()`)
	if field.Invalid != "true" || !strings.Contains(field.DescribedBy, "edit-email-error") || !field.Focused {
		t.Errorf("after the field error #edit-email has aria-invalid=%q aria-describedby=%q focused=%v, want true, the error's id, focused", field.Invalid, field.DescribedBy, field.Focused)
	}
	if alert := tb.text("#edit-alert"); alert != "" {
		t.Errorf("a field error also filled the form alert: %q", alert)
	}
	tb.screenshot("editor-field-error")
	if u := admin.user(student.ID); u.Email != student.Email || u.Version != student.Version {
		t.Errorf("after the refused save the record is %q v%d, want unchanged %q v%d", u.Email, u.Version, student.Email, student.Version)
	}

	// Someone else saves the record while the editor is open.
	var changed struct{ Version int }
	admin.must(http.StatusOK, "PATCH", "/api/users/"+student.ID, map[string]any{"lastName": "Elsewhere", "version": student.Version}, &changed)
	tb.fill("#edit-email", student.Email)
	tb.fill("#edit-firstName", "Browser")
	tb.click("#edit-save")
	tb.waitVisible("#edit-reload")
	if alert := tb.text("#edit-alert"); !strings.Contains(strings.ToLower(alert), "reload") {
		t.Errorf("#edit-alert after a conflict = %q, want it to say what happened and to reload", alert)
	}
	tb.screenshot("editor-conflict")
	if u := admin.user(student.ID); u.FirstName != student.FirstName || u.LastName != "Elsewhere" {
		t.Errorf("the stale save changed the record: %s %s", u.FirstName, u.LastName)
	}

	// Reload shows the other change; saving again works.
	tb.click("#edit-reload")
	tb.waitFor("the reloaded record", `document.querySelector('#edit-lastName')?.value === 'Elsewhere'`)
	tb.waitText("#edit-alert", "latest version")
	tb.fill("#edit-firstName", "Browser")
	tb.click("#edit-save")
	tb.waitGone("dialog#editor")
	tb.waitText("#toast-region", "Saved")
	u := admin.user(student.ID)
	if u.FirstName != "Browser" || u.LastName != "Elsewhere" || u.Version != changed.Version+1 {
		t.Errorf("after reload and save the record is %s %s v%d, want Browser Elsewhere v%d", u.FirstName, u.LastName, u.Version, changed.Version+1)
	}
	tb.waitText(fmt.Sprintf("#name-%s", student.ID), "Browser Elsewhere")
}
