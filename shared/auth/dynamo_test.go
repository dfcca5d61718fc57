package auth

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// serialUpdates runs one UpdateItem at a time. DynamoDB applies the writes
// to one item one after another, so a conditional update is atomic;
// moto_server runs requests on threads and can interleave two updates of
// one item. Parallel sign-ins still race each other between their requests.
type serialUpdates struct {
	dynamo.DB
	mu sync.Mutex
}

func (d *serialUpdates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.DB.UpdateItem(ctx, in, optFns...)
}

// recordingDB records the DynamoDB operations made through it, in order.
type recordingDB struct {
	dynamo.DB
	callLog
}

func (d *recordingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.record("GetItem")
	return d.DB.GetItem(ctx, in, optFns...)
}

func (d *recordingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.record("PutItem")
	return d.DB.PutItem(ctx, in, optFns...)
}

func (d *recordingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.record("UpdateItem")
	return d.DB.UpdateItem(ctx, in, optFns...)
}

func (d *recordingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	d.record("DeleteItem")
	return d.DB.DeleteItem(ctx, in, optFns...)
}

func (d *recordingDB) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	d.record("Query")
	return d.DB.Query(ctx, in, optFns...)
}

func (d *recordingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	d.record("Scan")
	return d.DB.Scan(ctx, in, optFns...)
}

func (d *recordingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.record("TransactWriteItems")
	return d.DB.TransactWriteItems(ctx, in, optFns...)
}

// countingHasher counts the password checks a Hasher is asked for:
// verifications of a stored hash and the burnt ones of unknown users.
type countingHasher struct {
	Hasher
	checks atomic.Int32
}

func (h *countingHasher) Verify(encoded, pw string) (bool, bool, error) {
	h.checks.Add(1)
	return h.Hasher.Verify(encoded, pw)
}

func (h *countingHasher) Burn(pw string) {
	h.checks.Add(1)
	h.Hasher.Burn(pw)
}

// slowHasher stands for argon2id's cost with a pause, so that parallel
// sign-ins overlap as they would with real hashing, without 30 parallel
// 19 MiB hashes on a shared machine.
type slowHasher struct{ fakeHasher }

func (h *slowHasher) Verify(encoded, pw string) (bool, bool, error) {
	time.Sleep(30 * time.Millisecond)
	return h.fakeHasher.Verify(encoded, pw)
}

func (h *slowHasher) Burn(pw string) {
	time.Sleep(30 * time.Millisecond)
	h.fakeHasher.Burn(pw)
}

// newDynamoService returns a service on a fresh table in moto holding one
// active user, ada (ada.user, ada@example.org), whose password is
// goodPassword under hasher's scheme.
func newDynamoService(t testing.TB, hasher Hasher, passwordHash string, now func() time.Time) (*Service, *dynamo.Store) {
	t.Helper()
	cfg := mototest.Config(t)
	return newDynamoServiceOn(t, &serialUpdates{DB: dynamodb.NewFromConfig(cfg)}, mototest.Table(t, cfg), hasher, passwordHash, now)
}

func newDynamoServiceOn(t testing.TB, db dynamo.DB, table string, hasher Hasher, passwordHash string, now func() time.Time) (*Service, *dynamo.Store) {
	t.Helper()
	store := dynamo.New(db, table, now)
	ada := rekey.User{
		ID: "ada", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleTeacher, Status: rekey.StatusActive,
		FirstName: "Ada", LastName: "Lovelace", Username: "ada.user", Email: "ada@example.org",
		PasswordHash: passwordHash, Version: 1, SessionGen: 1, CreatedAt: now(), UpdatedAt: now(),
	}
	if err := store.CreateUser(context.Background(), ada, nil); err != nil {
		t.Fatalf("CreateUser(ada) error: %v", err)
	}
	svc := NewService(Config{}, Deps{Store: store, Throttles: store, Hasher: hasher, Now: now})
	return svc, store
}

func TestLoginParallelGuessesOnDynamo(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
	hasher := &countingHasher{Hasher: &slowHasher{}}
	svc, _ := newDynamoService(t, hasher, "v2:"+goodPassword, clock.Now)
	cfg := DefaultConfig()

	// 30 wrong passwords for one account at once, from 30 addresses.
	const parallel = 30
	codes := make([]string, parallel)
	var wg sync.WaitGroup
	for i := range parallel {
		wg.Go(func() {
			ip := fmt.Sprintf("198.51.100.%d", i+1)
			_, err := svc.Login(ctx, "ada.user", "wrong password!", ip, requestID)
			codes[i] = rekey.ErrorCode(err)
		})
	}
	wg.Wait()
	checks := int(hasher.checks.Load())
	invalid := countOf(codes, rekey.ECodeInvalidCredentials)
	t.Logf("%d parallel wrong passwords: %d password checks; %d × 401, %d × 429", parallel, checks, invalid, countOf(codes, rekey.ECodeTooManyAttempts))
	// At one instant only the free failures may be tried; never more than
	// the attempts allowed before the lock.
	if checks != cfg.FreeFailures || checks > cfg.LockAfter {
		t.Errorf("%d parallel wrong passwords got %d password checks, want %d (at most %d)", parallel, checks, cfg.FreeFailures, cfg.LockAfter)
	}
	if invalid != checks || invalid+countOf(codes, rekey.ECodeTooManyAttempts) != parallel {
		t.Errorf("answers %v: want %d invalid_credentials (one per check) and the rest too_many_attempts", codes, checks)
	}

	// The remaining attempts, a minute apart, by email: the account locks
	// at LockAfter whichever name was typed.
	for i := checks; i < cfg.LockAfter; i++ {
		clock.Add(time.Minute)
		if _, err := svc.Login(ctx, "Ada@Example.org", "wrong password!", clientIP, requestID); err != ErrInvalidCredentials {
			t.Fatalf("failure %d by email: error %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	clock.Add(time.Minute)
	before := hasher.checks.Load()
	for _, login := range []string{"ada@example.org", "ada.user"} {
		if _, err := svc.Login(ctx, login, goodPassword, clientIP, requestID); rekey.ErrorCode(err) != rekey.ECodeTooManyAttempts {
			t.Errorf("Login(%q) with the right password while locked: error %v, want too_many_attempts", login, err)
		}
	}
	if got := hasher.checks.Load() - before; got != 0 {
		t.Errorf("sign-ins while locked got %d password checks, want 0", got)
	}

	// After the lock, the right password signs in (by email), and the
	// counter starts afresh.
	clock.Add(cfg.LockFor)
	if _, err := svc.Login(ctx, "ada@example.org", goodPassword, clientIP, requestID); err != nil {
		t.Errorf("Login with the right password after the lock: error %v", err)
	}
}

func TestLoginRightPasswordOnDynamo(t *testing.T) {
	// A reservation that succeeds is cleared (account) and given back
	// (client): many sign-ins from one address never throttle it.
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
	svc, store := newDynamoService(t, &fakeHasher{}, "v2:"+goodPassword, clock.Now)
	svc.cfg.ClientMaxFailures = 3
	for i := range 6 {
		if _, err := svc.Login(ctx, "ada.user", goodPassword, clientIP, requestID); err != nil {
			t.Fatalf("sign-in %d: error %v", i+1, err)
		}
	}
	for _, key := range []string{userKey("ada"), clientKey(clientIP)} {
		if th, err := store.GetThrottle(ctx, key); err != nil || th.Failures != 0 {
			t.Errorf("GetThrottle(%s) after successful sign-ins = %+v, %v; want no failures", key, th, err)
		}
	}
}

func TestLoginFailuresMakeTheSameDynamoRequests(t *testing.T) {
	// The requests DynamoDB sees for a name nobody has and for a real
	// user's wrong password are the same, at every stage of the throttle:
	// the deterministic half of SECURITY.md 5's "same timing".
	requests := func(login string) [][]string {
		cfg := mototest.Config(t)
		db := &recordingDB{DB: dynamodb.NewFromConfig(cfg)}
		clock := testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
		svc, _ := newDynamoServiceOn(t, db, mototest.Table(t, cfg), &fakeHasher{}, "v2:"+goodPassword, clock.Now)
		db.take()
		var stages [][]string
		m := time.Minute // five free failures, one delayed, five more (the last locks), one locked
		for _, wait := range []time.Duration{0, 0, 0, 0, 0, 0, m, m, m, m, m, m} {
			clock.Add(wait)
			svc.Login(context.Background(), login, "wrong password!", clientIP, requestID)
			stages = append(stages, db.take())
		}
		return stages
	}
	for _, test := range []struct{ known, unknown string }{
		{"ada.user", "nobody.at.all"},
		{"ada@example.org", "nobody@example.org"},
	} {
		known, unknown := requests(test.known), requests(test.unknown)
		if diff := cmp.Diff(known, unknown); diff != "" {
			t.Errorf("DynamoDB requests of failed sign-ins differ (-%s +%s):\n%s", test.known, test.unknown, diff)
		}
		// claim and user reads, the client's and the account's reservation
		// (each opening its window the first time), the audit entry
		for i, want := range [][]string{
			{"GetItem", "GetItem", "UpdateItem", "UpdateItem", "UpdateItem", "UpdateItem", "PutItem"},
			{"GetItem", "GetItem", "UpdateItem", "UpdateItem", "PutItem"},
		} {
			if !cmp.Equal(want, known[i]) {
				t.Errorf("DynamoDB requests of failure %d with %q = %v, want %v", i+1, test.known, known[i], want)
			}
		}
	}
}

// BenchmarkLoginFailure measures failed sign-ins against moto with real
// argon2id hashing, for a name nobody has and for a real user's wrong
// password, taking turns, and reports each one's median. It asserts nothing
// (timings are the machine's); TestLoginFailuresCostTheSameForUnknownAndKnownUsers
// is the deterministic check.
//
//	go test ./shared/auth -run '^$' -bench LoginFailure -benchtime 50x
func BenchmarkLoginFailure(b *testing.B) {
	ctx := context.Background()
	hasher := password.Hasher{}
	hash, err := hasher.Hash(goodPassword)
	if err != nil {
		b.Fatal(err)
	}
	svc, _ := newDynamoService(b, hasher, hash, time.Now)
	svc.cfg.FreeFailures, svc.cfg.LockAfter, svc.cfg.ClientMaxFailures = 10_000, 10_000, 10_000 // never throttled
	var unknown, wrong []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		cases := []struct {
			login string
			into  *[]time.Duration
		}{{"nobody.at.all", &unknown}, {"ada.user", &wrong}}
		if i%2 == 1 { // take turns at going first
			cases[0], cases[1] = cases[1], cases[0]
		}
		for _, c := range cases {
			start := time.Now()
			if _, err := svc.Login(ctx, c.login, "wrong password!", clientIP, requestID); err != ErrInvalidCredentials {
				b.Fatalf("Login(%q) error %v, want ErrInvalidCredentials", c.login, err)
			}
			*c.into = append(*c.into, time.Since(start))
		}
	}
	b.ReportMetric(median(unknown), "unknown-median-ms")
	b.ReportMetric(median(wrong), "wrong-password-median-ms")
}

func median(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

func countOf(codes []string, code string) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}
