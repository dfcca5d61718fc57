package browsertest

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// rowIDs lists the user ids of the rows shown.
func (tb *tab) rowIDs() []string {
	tb.t.Helper()
	return evalT[[]string](tb, `[...document.querySelectorAll('#users-table tbody tr[data-user-id]')].map((tr) => tr.dataset.userId)`)
}

// adminTabAt is a new tab, signed in as the district admin, showing u's
// row in the users list: where the tests of a user's editor, resets and
// escaping start.
func adminTabAt(t *testing.T, u rekey.User) *tab {
	t.Helper()
	tb := newTab(t)
	tb.signInAdmin()
	tb.findUser(u)
	return tb
}

// findUser opens the students tab searching for one username and waits
// for its row.
func (tb *tab) findUser(u rekey.User) {
	tb.t.Helper()
	tab := "students"
	if u.Role != rekey.RoleStudent {
		tab = "teachers"
	}
	tb.goHash(fmt.Sprintf("#/users?tab=%s&q=%s", tab, url.QueryEscape(u.Username)))
	tb.waitVisible(fmt.Sprintf(`tr[data-user-id=%q]`, u.ID))
}

// TestSearchAndPageThroughStudents pages through every student, in last
// name order, so it runs alone: other tests rename students, and a rename
// can move one across the page boundary between two reads.
func TestSearchAndPageThroughStudents(t *testing.T) {
	tb := newTab(t)
	tb.signInAdmin()
	const pageSize = 50
	total := len(demoUsers(func(u rekey.User) bool { return u.Role == rekey.RoleStudent }))

	first := tb.rowIDs()
	if len(first) != pageSize {
		t.Fatalf("page 1 shows %d students, want %d", len(first), pageSize)
	}
	if s := tb.text("#users-status"); s != "Showing 50 students on page 1." {
		t.Errorf("#users-status = %q on page 1", s)
	}
	if !evalT[bool](tb, `document.querySelector('#users-prev').disabled`) {
		t.Errorf("#users-prev is enabled on page 1")
	}

	tb.click("#users-next")
	tb.waitText("#users-status", "page 2")
	second := tb.rowIDs()
	if len(second) != total-pageSize {
		t.Errorf("page 2 shows %d students, want %d", len(second), total-pageSize)
	}
	for _, id := range second {
		if slices.Contains(first, id) {
			t.Errorf("user %s is on page 1 and page 2", id)
		}
	}
	if s := tb.text("#users-status"); s != fmt.Sprintf("Showing %d students on page 2 (last page).", total-pageSize) {
		t.Errorf("#users-status = %q on the last page", s)
	}
	if !evalT[bool](tb, `document.querySelector('#users-next').disabled`) {
		t.Errorf("#users-next is enabled on the last page")
	}
	if p := tb.text("#users-page"); p != "Page 2" {
		t.Errorf("#users-page = %q, want Page 2", p)
	}
	tb.screenshot("users-page-2")

	tb.click("#users-prev")
	tb.waitText("#users-status", "page 1")
	if again := tb.rowIDs(); !slices.Equal(again, first) {
		t.Errorf("back on page 1 the rows differ: %d rows, first %v", len(again), again[:min(3, len(again))])
	}

	// Search by username: typing narrows the list without pressing Enter.
	target := demoUsers(func(u rekey.User) bool { return u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-3" })[0]
	tb.fill("#users-search", target.Username)
	tb.waitFor("the search to narrow the list", fmt.Sprintf(`(() => {
  const rows = [...document.querySelectorAll('#users-table tbody tr[data-user-id]')];
  return rows.length > 0 && rows.every((tr) => tr.textContent.includes(%q));
})()`, target.Username))
	if ids := tb.rowIDs(); !slices.Contains(ids, target.ID) {
		t.Errorf("searching %q shows %v, want %s among them", target.Username, ids, target.ID)
	}
	if hash := evalT[string](tb, `location.hash`); hash != "#/users?tab=students&q="+url.QueryEscape(target.Username) {
		t.Errorf("the address after a search is %q, want the search in it", hash)
	}
	tb.screenshot("users-search")

	// A search that matches nobody says so and offers to clear it.
	tb.fill("#users-search", "zzz-nobody-has-this-name")
	tb.waitVisible("#users-empty")
	tb.waitText("#users-empty", "No students match")
	tb.screenshot("users-search-empty")
	tb.click("#users-empty-clear")
	tb.waitFor("the full list to come back", `document.querySelectorAll('#users-table tbody tr[data-user-id]').length === 50`)
	if v := tb.value("#users-search"); v != "" {
		t.Errorf("the search box holds %q after clearing", v)
	}

	// The school filter narrows to one school.
	tb.choose("#users-school", "demo-school-3")
	tb.waitFor("the school filter", `(() => {
  const rows = [...document.querySelectorAll('#users-table tbody tr[data-user-id]')];
  return rows.length > 0 && rows.length < 50 && rows.every((tr) => tr.textContent.includes('Hillcrest High School'));
})()`)
	if n := len(tb.rowIDs()); n != studentsPerSchool {
		t.Errorf("school filter shows %d students, want %d", n, studentsPerSchool)
	}

	// The other tabs list staff.
	tb.click("#users-tab-teachers")
	tb.waitText("#users-status", "teachers")
	tb.click("#users-tab-admins")
	tb.waitText("#users-status", "admin")
}
