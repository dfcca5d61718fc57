package browsertest

import (
	"net/http"
	"testing"
)

// hostileName would run script if any screen parsed it as HTML.
const hostileName = `<img src=x onerror=alert(1)>`

func TestAHostileNameShowsAsText(t *testing.T) {
	t.Parallel()
	student := claimStudent(t, true)
	admin := apiAdmin(t)
	var renamed struct{ FirstName string }
	admin.must(http.StatusOK, "PATCH", "/api/users/"+student.ID, map[string]any{"firstName": hostileName, "version": student.Version}, &renamed)
	if renamed.FirstName != hostileName {
		t.Fatalf("the API stored the first name as %q", renamed.FirstName)
	}
	fullName := hostileName + " " + student.LastName

	tb := adminTabAt(t, student)
	noImage := func(where string) {
		t.Helper()
		n := evalT[int](tb, `[...document.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x').length + document.querySelectorAll('[onerror]').length`)
		if n != 0 {
			t.Errorf("%s: the page has %d <img src=x> or onerror elements", where, n)
		}
	}
	if got := tb.text("#name-" + student.ID); got != fullName {
		t.Errorf("the list shows the name as %q, want the text %q", got, fullName)
	}
	noImage("users list")
	tb.screenshot("hostile-name-list")

	tb.click("#name-" + student.ID)
	tb.waitVisible("dialog#editor #edit-form")
	if got := tb.text("dialog#editor .dialog-title"); got != "Edit "+fullName {
		t.Errorf("the editor's title is %q, want %q", got, "Edit "+fullName)
	}
	if got := tb.value("#edit-firstName"); got != hostileName {
		t.Errorf("#edit-firstName = %q, want %q", got, hostileName)
	}
	noImage("editor")
	tb.screenshot("hostile-name-editor")
	tb.click("#edit-cancel")
	tb.waitGone("dialog#editor")

	// The reset dialog and the activity page name the user too.
	tb.click("#actions-" + student.ID)
	tb.click("#row-menu-reset")
	tb.waitVisible("dialog#reset-dialog")
	if got := tb.text("dialog#reset-dialog .dialog-title"); got != "Reset password for "+fullName {
		t.Errorf("the reset dialog's title is %q", got)
	}
	noImage("reset dialog")
	tb.click("#reset-cancel")
	tb.waitGone("dialog#reset-dialog")
	tb.goHash("#/users/" + student.ID + "/activity")
	tb.waitText("h1", "Activity of "+fullName)
	tb.waitVisible("#activity-table")
	tb.waitText("#activity-table", hostileName)
	noImage("activity")
	tb.screenshot("hostile-name-activity")
	// Any dialog that opened fails the test through the tab (newTab).
}
