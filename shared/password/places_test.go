package password_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// brokenPlaces fails every read.
type brokenPlaces struct{}

func (brokenPlaces) GetDistrict(context.Context, string) (rekey.District, error) {
	return rekey.District{}, errors.New("unavailable")
}

func (brokenPlaces) GetSchool(context.Context, string) (rekey.School, error) {
	return rekey.School{}, errors.New("unavailable")
}

func TestContextFor(t *testing.T) {
	ctx := context.Background()
	places := memstore.New(time.Now)
	strict := rekey.PasswordPolicy{MinLengthStaff: 16, MinLengthStudent: 10, MaxLength: 128}
	_ = places.PutDistrict(ctx, rekey.District{ID: "d1", Name: "Riverbend Unified", Policy: strict})
	_ = places.PutSchool(ctx, rekey.School{ID: "s1", DistrictID: "d1", Name: "Northfield Elementary"})
	for _, test := range []struct {
		name       string
		user       rekey.User
		wantPolicy rekey.PasswordPolicy
		wantWords  []string
	}{
		{"district and school", rekey.User{DistrictID: "d1", SchoolID: "s1"}, strict.WithDefaults(), []string{"Riverbend Unified", "Northfield Elementary"}},
		{"district only", rekey.User{DistrictID: "d1"}, strict.WithDefaults(), []string{"Riverbend Unified"}},
		{"no district (support)", rekey.User{}, rekey.DefaultPasswordPolicy, nil},
		{"district and school gone", rekey.User{DistrictID: "gone", SchoolID: "gone"}, rekey.DefaultPasswordPolicy, nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			policy, words, err := password.ContextFor(ctx, places, test.user)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(test.wantPolicy, policy); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(test.wantWords, words); diff != "" {
				t.Errorf("words (-want +got):\n%s", diff)
			}
		})
	}
	for _, u := range []rekey.User{{DistrictID: "d1"}, {SchoolID: "s1"}} {
		if _, _, err := password.ContextFor(ctx, brokenPlaces{}, u); err == nil {
			t.Errorf("ContextFor(%+v) with failing reads: no error", u)
		}
	}
}
