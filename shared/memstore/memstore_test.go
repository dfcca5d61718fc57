package memstore_test

import (
	"testing"
	"time"

	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/dynamo/storetest"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/users"
)

// The store interfaces of the services it stands in for; this fails to
// compile when one of them changes and the store does not follow.
var (
	_ storetest.Store    = (*memstore.Store)(nil)
	_ auth.Store         = (*memstore.Store)(nil)
	_ auth.ThrottleStore = (*memstore.Store)(nil)
	_ resets.Store       = (*memstore.Store)(nil)
	_ users.Store        = (*memstore.Store)(nil)
	_ api.SecretStore    = (*memstore.Store)(nil)
)

// TestContract proves the store against the contract the DynamoDB store
// passes on moto.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store { return memstore.New(now) })
}
