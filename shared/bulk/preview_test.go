package bulk

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

// TestPreview: counts by school and role, users without email, SSO users
// and the exclusions, for each kind of caller; nothing is written.
func TestPreview(t *testing.T) {
	noSSO := SSOPreview{Notice: "sso_notice", Schools: []SSOSchool{}}
	for _, test := range []struct {
		name  string
		actor string
		sel   rekey.Selection
		want  Preview
	}{
		{
			"a school's students", "da1", s1Students,
			Preview{Total: 12, BySchool: []SchoolCount{{"s1", "Northfield Elementary", 12}}, ByRole: map[rekey.Role]int{rekey.RoleStudent: 12},
				NoEmail: 6, SSO: noSSO, Excluded: []Exclusion{{"std", ExcludedDisabled}}, ExcludedTotal: 1, ApprovalThreshold: 5, NeedsApproval: true},
		},
		{
			"the district's students, one school signing in elsewhere", "da1", rekey.Selection{Mode: rekey.SelectWithoutRole},
			Preview{Total: 13, BySchool: []SchoolCount{{"s1", "Northfield Elementary", 12}, {"s2", "Hillcrest High", 1}}, ByRole: map[rekey.Role]int{rekey.RoleStudent: 13},
				NoEmail: 6, SSO: SSOPreview{Total: 1, Notice: "sso_notice", Schools: []SSOSchool{{"s2", "Hillcrest High", "https://sso.example.org/hillcrest", 1}}},
				Excluded: []Exclusion{{"std", ExcludedDisabled}}, ExcludedTotal: 1, ApprovalThreshold: 5, NeedsApproval: true},
		},
		{
			"everyone: the caller is excluded", "da1", rekey.Selection{Mode: rekey.SelectAll, SchoolID: "s1"},
			Preview{Total: 15, BySchool: []SchoolCount{{"s1", "Northfield Elementary", 15}},
				ByRole:  map[rekey.Role]int{rekey.RoleStudent: 12, rekey.RoleTeacher: 1, rekey.RoleSchoolAdmin: 2},
				NoEmail: 9, SSO: noSSO, Excluded: []Exclusion{{"std", ExcludedDisabled}}, ExcludedTotal: 1, ApprovalThreshold: 5, NeedsApproval: true},
		},
		{
			"a district admin's everyone", "da2", rekey.Selection{Mode: rekey.SelectAll, Role: rekey.RoleDistrictAdmin},
			Preview{Total: 1, BySchool: []SchoolCount{{"", "", 1}}, ByRole: map[rekey.Role]int{rekey.RoleDistrictAdmin: 1},
				NoEmail: 1, SSO: noSSO, Excluded: []Exclusion{{"da2", ExcludedSelf}}, ExcludedTotal: 1, ApprovalThreshold: 5},
		},
		{
			"selected users, some not resettable", "t1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st2", "sth", "sa1", "t1", "ghost", "st3"}},
			Preview{Total: 2, BySchool: []SchoolCount{{"s1", "Northfield Elementary", 2}}, ByRole: map[rekey.Role]int{rekey.RoleStudent: 2},
				NoEmail: 1, SSO: noSSO,
				Excluded:      []Exclusion{{"sth", ExcludedNotAllowed}, {"sa1", ExcludedNotAllowed}, {"ghost", ExcludedNotFound}},
				ExcludedTotal: 3, ApprovalThreshold: 5},
		},
		{
			"a teacher's everyone is their school's students", "t1", rekey.Selection{Mode: rekey.SelectAll},
			Preview{Total: 12, BySchool: []SchoolCount{{"s1", "Northfield Elementary", 12}}, ByRole: map[rekey.Role]int{rekey.RoleStudent: 12},
				NoEmail: 6, SSO: noSSO, ExcludedTotal: 4, ApprovalThreshold: 5, NeedsApproval: true,
				Excluded: []Exclusion{{"sa1", ExcludedNotAllowed}, {"sa2", ExcludedNotAllowed}, {"std", ExcludedDisabled}, {"t1", ExcludedSelf}}},
		},
		{
			"all except keeps the narrowing", "da1", rekey.Selection{Mode: rekey.SelectAllExcept, UserIDs: []string{"st1", "st2"}, SchoolID: "s1", Role: rekey.RoleStudent},
			Preview{Total: 10, BySchool: []SchoolCount{{"s1", "Northfield Elementary", 10}}, ByRole: map[rekey.Role]int{rekey.RoleStudent: 10},
				NoEmail: 5, SSO: noSSO, Excluded: []Exclusion{{"std", ExcludedDisabled}}, ExcludedTotal: 1, ApprovalThreshold: 5, NeedsApproval: true},
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			ctx := context.Background()
			svc, store, plans := newApprovalWorld(t, 5)
			_ = store.PutSchool(ctx, rekey.School{ID: "s2", DistrictID: "d1", Name: "Hillcrest High", SSO: true, SSOURL: "https://sso.example.org/hillcrest"})
			got, err := svc.Preview(ctx, store.user(test.actor), test.sel, link)
			if err != nil {
				t.Fatal(err)
			}
			// A selected caller (t1 below) is dropped from the list before
			// anything is read: the selection never holds them.
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("Preview(%+v) (-want +got):\n%s", test.sel, diff)
			}
			if store.taskCount(t) != 0 || len(plans.messages) != 0 {
				t.Errorf("a preview recorded %d tasks and queued %d messages", store.taskCount(t), len(plans.messages))
			}
		})
	}
}

// TestPreviewRefusesWhatStartRefuses: a preview validates as Start does.
func TestPreviewRefusesWhatStartRefuses(t *testing.T) {
	svc, store, _ := newApprovalWorld(t, 5)
	for _, test := range []struct {
		actor string
		sel   rekey.Selection
		field string
	}{
		{"t1", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s2"}, "selection.schoolId"},
		{"t1", rekey.Selection{Mode: rekey.SelectAll, Role: rekey.RoleTeacher}, "selection.role"},
		{"da1", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"da1"}}, "selection.userIds"},
	} {
		_, err := svc.Preview(context.Background(), store.user(test.actor), test.sel, link)
		if e, ok := err.(*rekey.Error); !ok || e.Field != test.field {
			t.Errorf("Preview(%s, %+v) = %v, want a refusal on %s", test.actor, test.sel, err, test.field)
		}
	}
}

// TestPreviewSSOSchool: the dry run says what the worker does to users of
// a school that signs in with SSO: they are not counted without email (an
// email-link task skips them for SSO, notice or not), and only an
// email-link task names the notice it sends them.
func TestPreviewSSOSchool(t *testing.T) {
	for _, test := range []struct {
		del        rekey.Delivery
		wantNotice string
	}{
		{link, "sso_notice"},
		{rekey.Delivery{Mode: rekey.DeliverGeneratedPasswords}, ""},
	} {
		t.Run(string(test.del.Mode), func(t *testing.T) {
			ctx := context.Background()
			svc, store, _ := newApprovalWorld(t, 5)
			_ = store.PutSchool(ctx, rekey.School{ID: "s1", DistrictID: "d1", Name: "Northfield Elementary", SSO: true, SSOURL: "https://sso.example.org/north"})
			got, err := svc.Preview(ctx, store.user("da1"), s1Students, test.del)
			if err != nil {
				t.Fatal(err)
			}
			want := SSOPreview{Total: 12, Notice: test.wantNotice, Schools: []SSOSchool{{"s1", "Northfield Elementary", "https://sso.example.org/north", 12}}}
			if diff := cmp.Diff(want, got.SSO); diff != "" || got.Total != 12 || got.NoEmail != 0 {
				t.Errorf("Preview(%s).SSO (-want +got):\n%s\ntotal %d, noEmail %d; want 12, 0", test.del.Mode, diff, got.Total, got.NoEmail)
			}
		})
	}
}
