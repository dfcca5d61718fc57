package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

// getItemsWorld is a table holding n users with their username and
// email claims, and the keys to read from it: every user and username
// claim, 150 keys of nothing, and the first 120 keys again (duplicates).
func getItemsWorld(t *testing.T, n int) (*Store, [][2]string) {
	t.Helper()
	s, _ := newStore(t)
	users := make([]rekey.User, n)
	for i := range users {
		users[i] = rekey.User{ID: fmt.Sprintf("u%04d", i), DistrictID: "d1", Role: rekey.RoleStudent, Status: rekey.StatusActive,
			FirstName: "F", LastName: "L", Username: fmt.Sprintf("kid%04d", i), Email: fmt.Sprintf("kid%04d@example.org", i), Version: 1}
	}
	if err := s.SeedUsers(t.Context(), users); err != nil {
		t.Fatal(err)
	}
	var keys [][2]string
	for _, u := range users {
		keys = append(keys, [2]string{userPK(u.ID), userSK}, [2]string{usernamePK(u.Username), claimSK})
	}
	for i := range 150 {
		keys = append(keys, [2]string{userPK(fmt.Sprintf("nobody%03d", i)), userSK})
	}
	keys = append(keys, keys[:120]...)
	return s, keys
}

// oneByOne is the store's DB without BatchGetItem: getItems then reads
// with one GetItem a key, the reference the batched reads must match.
type oneByOne struct{ DB }

// batchHook wraps the client's BatchGetItem with a function that may
// answer in its place.
type batchHook struct {
	DB
	real *dynamodb.Client
	hook func(ctx context.Context, in *dynamodb.BatchGetItemInput, real func() (*dynamodb.BatchGetItemOutput, error)) (*dynamodb.BatchGetItemOutput, error)
}

func (b batchHook) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return b.hook(ctx, in, func() (*dynamodb.BatchGetItemOutput, error) { return b.real.BatchGetItem(ctx, in, optFns...) })
}

// decoded turns getItems' answer into plain values to compare.
func decoded(t *testing.T, found map[string]map[string]types.AttributeValue) map[string]map[string]any {
	t.Helper()
	out := make(map[string]map[string]any, len(found))
	for k, av := range found {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(av, &m); err != nil {
			t.Fatal(err)
		}
		out[k] = m
	}
	return out
}

// withDB is s reading through db.
func withDB(s *Store, db DB) *Store { return New(db, s.table, s.now) }

// getItems reads many keys (over 800 distinct, duplicates, missing ones)
// in concurrent BatchGetItems, never more than getConcurrency in flight,
// and returns exactly what reading them one by one does; batches answered
// in part (UnprocessedKeys) are read again until complete.
func TestGetItemsConcurrent(t *testing.T) {
	s, keys := getItemsWorld(t, 350)
	ctx := t.Context()
	want, err := withDB(s, oneByOne{s.db}).getItems(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 700 {
		t.Fatalf("one by one: %d items, want 700", len(want))
	}
	client := s.db.(*dynamodb.Client)
	for _, test := range []struct {
		name string
		// partial: answer only the first half of a batch's first attempt
		// and return the rest as UnprocessedKeys, for every other batch.
		partial bool
	}{
		{"every batch answered whole", false},
		{"some batches answered in part", true},
	} {
		t.Run(test.name, func(t *testing.T) {
			var mu sync.Mutex
			inFlight, most, calls, retried := 0, 0, 0, 0
			full := make(chan struct{})
			asked := map[string]bool{} // the PKs asked for so far
			hook := func(ctx context.Context, in *dynamodb.BatchGetItemInput, real func() (*dynamodb.BatchGetItemOutput, error)) (*dynamodb.BatchGetItemOutput, error) {
				mu.Lock()
				inFlight, calls = inFlight+1, calls+1
				most = max(most, inFlight)
				if inFlight == getConcurrency {
					select {
					case <-full:
					default:
						close(full)
					}
				}
				req := in.RequestItems[s.table]
				retry := asked[req.Keys[0]["PK"].(*types.AttributeValueMemberS).Value]
				for _, k := range req.Keys {
					asked[k["PK"].(*types.AttributeValueMemberS).Value] = true
				}
				if retry {
					retried++
				}
				split := test.partial && !retry && calls%2 == 1 && len(req.Keys) > 1
				mu.Unlock()
				defer func() {
					mu.Lock()
					inFlight--
					mu.Unlock()
				}()
				// The first calls wait until getConcurrency are in flight:
				// reads one after another never get there.
				select {
				case <-full:
				case <-time.After(5 * time.Second):
					return nil, errors.New("getConcurrency BatchGetItems never were in flight at once")
				}
				if len(req.Keys) > maxBatchGet {
					return nil, fmt.Errorf("%d keys in one BatchGetItem", len(req.Keys))
				}
				if !split {
					return real()
				}
				half := len(req.Keys) / 2
				resp, err := client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
					s.table: {Keys: req.Keys[:half], ConsistentRead: req.ConsistentRead}}})
				if err != nil {
					return nil, err
				}
				resp.UnprocessedKeys = map[string]types.KeysAndAttributes{s.table: {Keys: req.Keys[half:], ConsistentRead: req.ConsistentRead}}
				return resp, nil
			}
			got, err := withDB(s, batchHook{DB: client, real: client, hook: hook}).getItems(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decoded(t, want), decoded(t, got)); diff != "" {
				t.Errorf("getItems differs from one-by-one reads (-want +got):\n%s", diff)
			}
			distinct := (700 + 150 + maxBatchGet - 1) / maxBatchGet
			switch {
			case most != getConcurrency:
				t.Errorf("at most %d BatchGetItems in flight, want %d", most, getConcurrency)
			case !test.partial && (calls != distinct || retried != 0):
				t.Errorf("%d calls (%d retries), want %d batches of distinct keys and no retry", calls, retried, distinct)
			case test.partial && (retried == 0 || calls != distinct+retried):
				t.Errorf("%d calls, %d retries of unprocessed keys; want retries and %d calls", calls, retried, distinct+retried)
			}
		})
	}
}

// A batch that fails fails getItems with its error and cancels the
// batches in flight; a cancelled context stops it before any call.
func TestGetItemsError(t *testing.T) {
	s, _ := newStore(t)
	var keys [][2]string
	for i := range 1000 {
		keys = append(keys, [2]string{userPK(fmt.Sprintf("u%04d", i)), userSK})
	}
	client := s.db.(*dynamodb.Client)
	failure := errors.New("throttled for good")
	var mu sync.Mutex
	calls, cancelled := 0, 0
	full := make(chan struct{})
	hook := func(ctx context.Context, _ *dynamodb.BatchGetItemInput, _ func() (*dynamodb.BatchGetItemOutput, error)) (*dynamodb.BatchGetItemOutput, error) {
		mu.Lock()
		calls++
		n := calls
		if n == getConcurrency {
			close(full)
		}
		mu.Unlock()
		if n == 3 {
			// It fails once every slot holds a call.
			select {
			case <-full:
			case <-time.After(5 * time.Second):
			}
			return nil, failure
		}
		select {
		case <-ctx.Done():
			mu.Lock()
			cancelled++
			mu.Unlock()
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
			return &dynamodb.BatchGetItemOutput{}, nil
		}
	}
	start := time.Now()
	found, err := withDB(s, batchHook{DB: client, real: client, hook: hook}).getItems(t.Context(), keys)
	if !errors.Is(err, failure) || found != nil {
		t.Fatalf("getItems = %d items, %v; want nothing and %v", len(found), err, failure)
	}
	if time.Since(start) > 4*time.Second || cancelled != getConcurrency-1 || calls != getConcurrency {
		t.Errorf("after %v: %d calls, %d cancelled; want the %d others in flight cancelled at once, no more started",
			time.Since(start), calls, cancelled, getConcurrency-1)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls = 0
	if _, err := withDB(s, batchHook{DB: client, real: client, hook: hook}).getItems(ctx, keys); !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("getItems with a cancelled context = %v after %d calls, want context.Canceled and no call", err, calls)
	}
}
