package dynamo

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/dynamo/storetest"
	"github.com/rekey/rekey/shared/mailworker"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/schedule"
	"github.com/rekey/rekey/shared/users"
)

// The store interfaces other packages code against; this fails to compile
// when a signature drifts.
var (
	_ storetest.Store        = (*Store)(nil)
	_ auth.Store             = (*Store)(nil)
	_ auth.ThrottleStore     = (*Store)(nil)
	_ resets.Store           = (*Store)(nil)
	_ users.Store            = (*Store)(nil)
	_ bulk.Store             = (*Store)(nil)
	_ mailworker.Deliveries  = (*Store)(nil)
	_ schedule.Store         = (*Store)(nil)
	_ schedule.DispatchStore = (*Store)(nil)
)

// *dynamodb.Client is the natural argument of New.
var _ DB = (*dynamodb.Client)(nil)

// TestContract runs the store contract, which the in-memory store the
// services' tests use (shared/memstore) passes too, against moto.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Store {
		cfg := mototest.Config(t)
		return New(dynamodb.NewFromConfig(cfg), mototest.Table(t, cfg), now)
	})
}
