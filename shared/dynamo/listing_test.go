package dynamo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/dynamo/storetest"
	"github.com/rekey/rekey/shared/rekey"
)

// population creates 120 users over two districts and three schools, in
// varied roles and grades, and returns them.
func population(t *testing.T, s *Store) []rekey.User {
	t.Helper()
	firsts := []string{"Ada", "bea", "Cy", "Dee", "Eli", "Fay", "Gus"}
	lasts := []string{"Smith", "jones", "Smithson", "Brown", "Olsen", "Andersen", "Adams", "Young", "Nakamura", "Okafor", "Quist"}
	var users []rekey.User
	for i := range 120 {
		u := rekey.User{
			ID:        fmt.Sprintf("u%03d", i),
			FirstName: firsts[i%len(firsts)],
			LastName:  lasts[(i*7)%len(lasts)],
			Username:  fmt.Sprintf("User.%03d", i),
			Status:    rekey.StatusActive,
			Version:   1,
			CreatedAt: t0,
			UpdatedAt: t0,
		}
		if i%4 != 0 {
			u.Email = fmt.Sprintf("person%03d@%s.example.org", i, []string{"north", "south"}[i%2])
		}
		switch {
		case i%10 == 9:
			u.DistrictID, u.SchoolID = "d2", "s3"
		case i%2 == 0:
			u.DistrictID, u.SchoolID = "d1", "s1"
		default:
			u.DistrictID, u.SchoolID = "d1", "s2"
		}
		switch {
		case i%20 == 7:
			u.Role, u.SchoolID = rekey.RoleDistrictAdmin, ""
		case i%11 == 3:
			u.Role, u.Title = rekey.RoleSchoolAdmin, "Head"
		case i%5 == 1:
			u.Role, u.Title = rekey.RoleTeacher, "Teacher"
		default:
			u.Role, u.Grade = rekey.RoleStudent, fmt.Sprint(5+i%3)
		}
		users = append(users, u)
	}
	// A support user belongs to no district and no school.
	users = append(users, rekey.User{ID: "support1", Role: rekey.RoleSupport, FirstName: "Sam", LastName: "Support",
		Username: "support", Status: rekey.StatusActive, Version: 1, CreatedAt: t0, UpdatedAt: t0})
	// Written item by item rather than with CreateUser: moto copies every
	// table on each transaction, which makes 120 of them slow. The items
	// are the same, claims included (a scan must skip them).
	ctx := context.Background()
	for _, u := range users {
		items := []any{newUserItem(u), claimItem{PK: usernamePK(u.Username), SK: claimSK, UserID: u.ID}}
		if u.Email != "" {
			items = append(items, claimItem{PK: emailPK(u.Email), SK: claimSK, UserID: u.ID})
		}
		for _, item := range items {
			if err := s.putItem(ctx, item, nil, nil); err != nil {
				t.Fatalf("put %T of %s: %v", item, u.ID, err)
			}
		}
	}
	return users
}

// expectedListing is what ListUsers must return for f, across all pages,
// computed independently of the store: matching users in role, last name,
// first name, id order.
func expectedListing(users []rekey.User, f rekey.UserFilter) []string {
	var matched []rekey.User
	q := strings.ToLower(f.Query)
	for _, u := range users {
		switch {
		case f.SchoolID != "" && u.SchoolID != f.SchoolID,
			f.DistrictID != "" && u.DistrictID != f.DistrictID,
			f.Role != "" && u.Role != f.Role,
			f.Grade != "" && u.Grade != f.Grade,
			q != "" && !strings.Contains(strings.ToLower(u.FirstName+" "+u.LastName), q) &&
				!strings.Contains(strings.ToLower(u.Username), q) && !strings.Contains(strings.ToLower(u.Email), q):
			continue
		}
		matched = append(matched, u)
	}
	slices.SortFunc(matched, func(a, b rekey.User) int {
		for _, c := range [][2]string{
			{string(a.Role), string(b.Role)},
			{strings.ToLower(a.LastName), strings.ToLower(b.LastName)},
			{strings.ToLower(a.FirstName), strings.ToLower(b.FirstName)},
			{a.ID, b.ID},
		} {
			if n := strings.Compare(c[0], c[1]); n != 0 {
				return n
			}
		}
		return 0
	})
	ids := []string{}
	for _, u := range matched {
		ids = append(ids, u.ID)
	}
	return ids
}

func TestListUsers(t *testing.T) {
	s, _ := newStore(t)
	users := population(t, s)

	// Every filter is paged with small limits, some one user at a time, two
	// with the default limit (each page is a request, and moto answers
	// slowly as pages grow).
	for _, test := range []struct {
		filter rekey.UserFilter
		limits []int
	}{
		{rekey.UserFilter{DistrictID: "d1"}, []int{10, 0}},
		{rekey.UserFilter{DistrictID: "d2"}, []int{1, 5}},
		{rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleTeacher}, []int{1, 4}},
		{rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleDistrictAdmin}, []int{2}},
		{rekey.UserFilter{SchoolID: "s1"}, []int{9}},
		{rekey.UserFilter{SchoolID: "s2", Role: rekey.RoleStudent, Grade: "6"}, []int{1, 3}},
		{rekey.UserFilter{DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleStudent}, []int{6}},
		{rekey.UserFilter{DistrictID: "d2", SchoolID: "s1"}, []int{3}}, // school outside the district: nothing
		{rekey.UserFilter{DistrictID: "d1", Grade: "5"}, []int{4}},
		{rekey.UserFilter{DistrictID: "d1", Query: "SMITH"}, []int{1, 5}},
		{rekey.UserFilter{DistrictID: "d1", Query: "south.example"}, []int{8, 0}},
		{rekey.UserFilter{DistrictID: "d1", Query: "user.01"}, []int{3}},
		{rekey.UserFilter{DistrictID: "d1", Query: "ada smith"}, []int{1}},
		{rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleStudent, Grade: "7", Query: "son"}, []int{1, 2}},
		{rekey.UserFilter{DistrictID: "d1", Query: "no such person"}, []int{5}},
		{rekey.UserFilter{DistrictID: "nowhere"}, []int{5}},
		{rekey.UserFilter{SchoolID: "s3", Query: "ya"}, []int{1}},
	} {
		want := expectedListing(users, test.filter)
		for _, limit := range test.limits {
			f := test.filter
			f.Limit = limit
			t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
				got := storetest.AllUsers(t, s, f)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ListUsers(%+v) over all pages mismatch (-want +got):\n%s", f, diff)
				}
			})
		}
	}
	// Without district or school (support) every user is listed, in no
	// particular order.
	for _, f := range []rekey.UserFilter{{Limit: 13}, {Role: rekey.RoleTeacher, Limit: 4}, {Query: "support"}} {
		t.Run(fmt.Sprintf("scan %+v", f), func(t *testing.T) {
			want, got := expectedListing(users, f), storetest.AllUsers(t, s, f)
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ListUsers(%+v) over all pages mismatch (-want +got):\n%s", f, diff)
			}
		})
	}

	t.Run("page contents", func(t *testing.T) {
		page, err := s.ListUsers(context.Background(), rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleTeacher, Limit: 3})
		if err != nil {
			t.Fatalf("ListUsers() error: %v", err)
		}
		if len(page.Items) != 3 || page.Next == "" {
			t.Fatalf("ListUsers(limit 3) = %d items, next %q; want 3 and a cursor", len(page.Items), page.Next)
		}
		want := users[slices.IndexFunc(users, func(u rekey.User) bool { return u.ID == page.Items[0].ID })]
		if diff := cmp.Diff(want, page.Items[0]); diff != "" {
			t.Errorf("listed user mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("exact last page has no cursor", func(t *testing.T) {
		n := len(expectedListing(users, rekey.UserFilter{DistrictID: "d2"}))
		page, err := s.ListUsers(context.Background(), rekey.UserFilter{DistrictID: "d2", Limit: n})
		if err != nil {
			t.Fatalf("ListUsers() error: %v", err)
		}
		if len(page.Items) != n || page.Next != "" {
			t.Errorf("ListUsers(limit %d) = %d items, next %q; want %d and no cursor", n, len(page.Items), page.Next, n)
		}
	})

	t.Run("invalid cursor", func(t *testing.T) { testInvalidCursor(t, s) })

	t.Run("read budget", func(t *testing.T) {
		small := *s
		small.maxEvaluated = 10
		for _, f := range []rekey.UserFilter{
			{DistrictID: "d1", Query: "smithson", Limit: 2},
			{DistrictID: "d1", Grade: "6", Limit: 5},
			{Query: "user.11", Limit: 1},
		} {
			want := expectedListing(users, f)
			if f.DistrictID == "" {
				slices.Sort(want)
			}
			evaluatedPages := 0
			got := []string{}
			for cursor := ""; ; {
				f.Cursor = cursor
				page, err := small.ListUsers(context.Background(), f)
				if err != nil {
					t.Fatalf("ListUsers(%+v) error: %v", f, err)
				}
				for _, u := range page.Items {
					got = append(got, u.ID)
				}
				evaluatedPages++
				if cursor = page.Next; cursor == "" || evaluatedPages > 200 {
					break
				}
			}
			if f.DistrictID == "" {
				slices.Sort(got)
			}
			if evaluatedPages < 3 {
				t.Errorf("ListUsers(%+v) with a budget of 10 took %d calls, want several", f, evaluatedPages)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ListUsers(%+v) with a small budget mismatch (-want +got):\n%s", f, diff)
			}
		}
	})
}

// testInvalidCursor checks that ListUsers refuses cursors that are not its
// own, on the store that population filled.
func testInvalidCursor(t *testing.T, s *Store) {
	ctx := context.Background()
	cursorOf := func(f rekey.UserFilter) string {
		t.Helper()
		f.Limit = 2
		page, err := s.ListUsers(ctx, f)
		if err != nil || page.Next == "" {
			t.Fatalf("ListUsers(%+v) = next %q, %v; want a cursor", f, page.Next, err)
		}
		return page.Next
	}
	encode := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	district := cursorOf(rekey.UserFilter{DistrictID: "d1"})
	students := cursorOf(rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleStudent})
	school := cursorOf(rekey.UserFilter{SchoolID: "s1"})
	scan := cursorOf(rekey.UserFilter{})
	raw, _ := base64.RawURLEncoding.DecodeString(district)

	for _, test := range []struct {
		name   string
		filter rekey.UserFilter
	}{
		{"not base64", rekey.UserFilter{DistrictID: "d1", Cursor: "!!not base64!!"}},
		{"padded base64", rekey.UserFilter{DistrictID: "d1", Cursor: base64.URLEncoding.EncodeToString(raw) + "=="}},
		{"not JSON", rekey.UserFilter{DistrictID: "d1", Cursor: encode("not json")}},
		{"JSON not an object of strings", rekey.UserFilter{DistrictID: "d1", Cursor: encode(`{"PK":1,"SK":"USER","GSI1PK":"DIST#d1","GSI1SK":"ROLE#"}`)}},
		{"missing key", rekey.UserFilter{DistrictID: "d1", Cursor: encode(`{"PK":"USER#u1","SK":"USER","GSI1PK":"DIST#d1"}`)}},
		{"extra key", rekey.UserFilter{DistrictID: "d1", Cursor: encode(`{"PK":"USER#u1","SK":"USER","GSI1PK":"DIST#d1","GSI1SK":"ROLE#student#a#b#u1","X":"y"}`)}},
		{"other item type", rekey.UserFilter{DistrictID: "d1", Cursor: encode(`{"PK":"AUDIT#u1","SK":"USER","GSI1PK":"DIST#d1","GSI1SK":"ROLE#student#a#b#u1"}`)}},
		{"tampered partition", rekey.UserFilter{DistrictID: "d1", Cursor: strings.Replace(district, district[:8], "AAAAAAAA", 1)}},
		{"other district", rekey.UserFilter{DistrictID: "d2", Cursor: district}},
		{"district cursor on school listing", rekey.UserFilter{SchoolID: "s1", Cursor: district}},
		{"other school", rekey.UserFilter{SchoolID: "s2", Cursor: school}},
		{"student cursor on teacher listing", rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleTeacher, Cursor: students}},
		{"scan cursor on district listing", rekey.UserFilter{DistrictID: "d1", Cursor: scan}},
		{"district cursor on scan", rekey.UserFilter{Cursor: district}},
	} {
		t.Run(test.name, func(t *testing.T) {
			page, err := s.ListUsers(ctx, test.filter)
			var e *rekey.Error
			if !errors.As(err, &e) || e.Code != rekey.ECodeInvalidCursor || e.Field != "cursor" {
				t.Errorf("ListUsers(%+v) = %d items, %v; want invalid_cursor on field cursor", test.filter, len(page.Items), err)
			}
		})
	}
	// A cursor stays good when only the non-key filters change.
	if _, err := s.ListUsers(ctx, rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleStudent, Grade: "5", Cursor: students}); err != nil {
		t.Errorf("ListUsers(student cursor with grade filter) error: %v", err)
	}
}
