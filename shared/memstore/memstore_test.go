package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/dynamo/storetest"
	"github.com/rekey/rekey/shared/mailworker"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/users"
)

// The store interfaces of the services it stands in for; this fails to
// compile when one of them changes and the store does not follow.
var (
	_ storetest.Store       = (*memstore.Store)(nil)
	_ auth.Store            = (*memstore.Store)(nil)
	_ auth.ThrottleStore    = (*memstore.Store)(nil)
	_ resets.Store          = (*memstore.Store)(nil)
	_ users.Store           = (*memstore.Store)(nil)
	_ api.SecretStore       = (*memstore.Store)(nil)
	_ bulk.Store            = (*memstore.Store)(nil)
	_ mailworker.Deliveries = (*memstore.Store)(nil)
)

// TestContract proves the store against the contract the DynamoDB store
// passes on moto.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store { return memstore.New(now) })
}

// TestEditAndRemoveUser: the two writes tests make behind a service's back
// (which the DynamoDB store has no need of) keep the claims right.
func TestEditAndRemoveUser(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(time.Now)
	u := rekey.User{ID: "u1", Username: "ann", Email: "ann@example.org", Version: 1}
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	u.Username, u.Version = "annie", 7 // Edit ignores the version it is given
	if err := s.Edit(ctx, u); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	if got, err := s.GetUserByUsername(ctx, "ANNIE"); err != nil || got.Version != 2 {
		t.Errorf("after Edit: GetUserByUsername(annie) = %+v, %v; want version 2", got, err)
	}
	if _, err := s.GetUserByUsername(ctx, "ann"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("after Edit: old username still claimed: %v", err)
	}
	if err := s.Edit(ctx, rekey.User{ID: "nobody", Username: "x"}); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("Edit(nobody) = %v, want not found", err)
	}

	s.RemoveUser("u1")
	for _, get := range []func() (rekey.User, error){
		func() (rekey.User, error) { return s.GetUser(ctx, "u1") },
		func() (rekey.User, error) { return s.GetUserByUsername(ctx, "annie") },
		func() (rekey.User, error) { return s.GetUserByEmail(ctx, "ann@example.org") },
	} {
		if got, err := get(); !errors.Is(err, rekey.ErrNotFound) {
			t.Errorf("after RemoveUser: found %+v, %v", got, err)
		}
	}
	if err := s.CreateUser(ctx, rekey.User{ID: "u2", Username: "annie", Email: "ann@example.org", Version: 1}, nil); err != nil {
		t.Errorf("the removed user's names are still claimed: %v", err)
	}
}
