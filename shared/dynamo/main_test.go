package dynamo

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/testclock"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// t0 is the tests' reference time.
var t0 = time.Date(2026, 9, 1, 7, 0, 0, 123456789, time.UTC)

// newStore returns a store on a fresh table in moto, with a fake clock set
// to t0.
func newStore(t *testing.T) (*Store, *testclock.Clock) {
	t.Helper()
	cfg := mototest.Config(t)
	clock := testclock.New(t0)
	return New(dynamodb.NewFromConfig(cfg), mototest.Table(t, cfg), clock.Now), clock
}

// interleavingDB runs a hook before the n-th PutItem or UpdateItem (counting
// from 1), to stage a competing request at an exact point of another.
type interleavingDB struct {
	DB
	mu                      sync.Mutex
	puts, updates           int
	beforePut, beforeUpdate func(n int)
}

func (d *interleavingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.mu.Lock()
	d.puts++
	n := d.puts
	d.mu.Unlock()
	if d.beforePut != nil {
		d.beforePut(n)
	}
	return d.DB.PutItem(ctx, in, optFns...)
}

func (d *interleavingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.mu.Lock()
	d.updates++
	n := d.updates
	d.mu.Unlock()
	if d.beforeUpdate != nil {
		d.beforeUpdate(n)
	}
	return d.DB.UpdateItem(ctx, in, optFns...)
}
