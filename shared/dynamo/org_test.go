package dynamo

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

func TestDistrictsAndSchools(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)

	district := rekey.District{ID: "d1", Name: "North District", Policy: rekey.PasswordPolicy{MinLengthStaff: 16, MaxLength: 64}}
	if err := s.PutDistrict(ctx, district); err != nil {
		t.Fatalf("PutDistrict() error: %v", err)
	}
	got, err := s.GetDistrict(ctx, "d1")
	if err != nil {
		t.Fatalf("GetDistrict(d1) error: %v", err)
	}
	if diff := cmp.Diff(district, got); diff != "" {
		t.Errorf("GetDistrict(d1) mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.GetDistrict(ctx, "d9"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetDistrict(d9) error = %v, want rekey.ErrNotFound", err)
	}

	schools := []rekey.School{
		{ID: "s1", DistrictID: "d1", Name: "Westfield Primary"},
		{ID: "s2", DistrictID: "d1", Name: "ashby Academy", SSO: true, SSOURL: "https://sso.example.org/ashby"},
		{ID: "s3", DistrictID: "d1", Name: "Moor Lane"},
		{ID: "s4", DistrictID: "d2", Name: "Elsewhere High"},
	}
	for _, sc := range schools {
		if err := s.PutSchool(ctx, sc); err != nil {
			t.Fatalf("PutSchool(%s) error: %v", sc.ID, err)
		}
	}
	// Renaming a school moves it in the by-name listing.
	schools[0].Name = "Barton Primary"
	if err := s.PutSchool(ctx, schools[0]); err != nil {
		t.Fatalf("PutSchool(rename s1) error: %v", err)
	}
	if got, err := s.GetSchool(ctx, "s2"); err != nil || !cmp.Equal(schools[1], got) {
		t.Errorf("GetSchool(s2) = %+v, %v; want %+v", got, err, schools[1])
	}
	if _, err := s.GetSchool(ctx, "s9"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetSchool(s9) error = %v, want rekey.ErrNotFound", err)
	}

	for _, test := range []struct {
		district string
		want     []rekey.School
	}{
		{"d1", []rekey.School{schools[1], schools[0], schools[2]}},
		{"d2", []rekey.School{schools[3]}},
		{"d3", []rekey.School{}},
	} {
		got, err := s.ListSchools(ctx, test.district)
		if err != nil {
			t.Fatalf("ListSchools(%s) error: %v", test.district, err)
		}
		if diff := cmp.Diff(test.want, got); diff != "" {
			t.Errorf("ListSchools(%s) mismatch (-want +got):\n%s", test.district, diff)
		}
	}
}
