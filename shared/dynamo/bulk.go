package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
	"golang.org/x/sync/errgroup"
)

// The bulk pipeline's storage: chunks of a task (TASK#<id> / CHUNK#<n>),
// each holding its users' ids and the (task, user) entries that say what
// was done to each; written with one transaction per step, so that a chunk
// of up to rekey.ChunkSize users costs a few calls, not a few per user.

// chunkSK is the sort key of chunk n: zero-padded so chunks sort in order.
func chunkSK(n int) string { return fmt.Sprintf("%s%06d", chunkPrefix, n) }

// chunkItem is one chunk of a task.
type chunkItem struct {
	PK         string      `dynamodbav:"PK"`
	SK         string      `dynamodbav:"SK"`
	TaskID     string      `dynamodbav:"taskId"`
	Index      int         `dynamodbav:"index"`
	UserIDs    []string    `dynamodbav:"userIds"`
	Entries    []entryItem `dynamodbav:"entries,omitempty"`
	Version    int         `dynamodbav:"version"`
	LeaseUntil storedTime  `dynamodbav:"leaseUntil,omitempty"`
	Holder     string      `dynamodbav:"leaseHolder,omitempty"`
	Retakes    int         `dynamodbav:"retakes,omitempty"`
	Done       bool        `dynamodbav:"done"`
	TTL        int64       `dynamodbav:"ttl"`
	// GSI1PK and GSI1SK index the chunk while a worker holds it (see
	// leasedIndexKeys): the sweeper reads only those.
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
}

// leasedChunks is the GSI1 partition of the chunks a worker holds (or
// held, until it died): sparse, so the sweeper never reads the rest of
// the table. One partition for all tasks is enough: a chunk is written a
// few times a minute while worked on, and only a few are worked on at once
// (the work queue's MaximumConcurrency).
const leasedChunks = "CHUNKS#LEASED"

// leasedIndexKeys are the GSI1 keys of a chunk held until until (or to be
// looked at again then): sorted by that time, so the stale ones come first.
func leasedIndexKeys(taskID string, index int, until time.Time) (pk, sk string) {
	return leasedChunks, fmt.Sprintf("%s#%s#%06d", formatTime(until), taskID, index)
}

// entryItem is one user's entry of a chunk.
type entryItem struct {
	UserID         string `dynamodbav:"userId"`
	Username       string `dynamodbav:"username,omitempty"`
	FirstName      string `dynamodbav:"firstName,omitempty"`
	LastName       string `dynamodbav:"lastName,omitempty"`
	ExternalID     string `dynamodbav:"externalId,omitempty"`
	SchoolID       string `dynamodbav:"schoolId,omitempty"`
	Grade          string `dynamodbav:"grade,omitempty"`
	Email          string `dynamodbav:"email,omitempty"`
	Outcome        string `dynamodbav:"outcome,omitempty"`
	Attempts       int    `dynamodbav:"attempts,omitempty"`
	Error          string `dynamodbav:"error,omitempty"`
	Prepared       bool   `dynamodbav:"prepared,omitempty"`
	Held           bool   `dynamodbav:"held,omitempty"`
	Notified       bool   `dynamodbav:"notified,omitempty"`
	MessageID      string `dynamodbav:"messageId,omitempty"`
	SealedPassword []byte `dynamodbav:"sealedPassword,omitempty"`
	// Prior*: how the user signed in before the task voided their
	// password (rekey.PriorAccess); PriorStatus is empty when unset.
	PriorStatus      string     `dynamodbav:"priorStatus,omitempty"`
	PriorMustChange  bool       `dynamodbav:"priorMustChange,omitempty"`
	PriorHadPassword bool       `dynamodbav:"priorHadPassword,omitempty"`
	ReachedAt        storedTime `dynamodbav:"reachedAt,omitempty"`
	MailState        string     `dynamodbav:"mailState,omitempty"`
}

// newChunkItem stores c; it expires with its task.
func newChunkItem(c rekey.Chunk, expires time.Time) chunkItem {
	it := chunkItem{
		PK: taskPK(c.TaskID), SK: chunkSK(c.Index), TaskID: c.TaskID, Index: c.Index, UserIDs: c.UserIDs,
		Version: c.Version, LeaseUntil: storedTime{c.LeaseUntil}, Holder: c.Holder, Retakes: c.Retakes, Done: c.Done, TTL: ttlAfter(expires),
	}
	if !c.Done && !c.LeaseUntil.IsZero() {
		it.GSI1PK, it.GSI1SK = leasedIndexKeys(c.TaskID, c.Index, c.LeaseUntil)
	}
	if c.Entries != nil {
		it.Entries = make([]entryItem, len(c.Entries))
		for i, e := range c.Entries {
			r := e.Result
			it.Entries[i] = entryItem{
				UserID: r.UserID, Username: r.Username, FirstName: r.FirstName, LastName: r.LastName,
				ExternalID: r.ExternalID, SchoolID: r.SchoolID, Grade: r.Grade, Email: r.Email,
				Outcome: string(r.Outcome), Attempts: r.Attempts, Error: r.Error, Notified: r.Notified,
				Prepared: e.Prepared, Held: e.Held, MessageID: e.MessageID, SealedPassword: e.SealedPassword,
				ReachedAt: storedTime{r.ReachedAt}, MailState: e.MailState,
			}
			if p := e.Prior; p != nil {
				it.Entries[i].PriorStatus, it.Entries[i].PriorMustChange, it.Entries[i].PriorHadPassword = string(p.Status), p.MustChangePassword, p.HadPassword
			}
		}
	}
	return it
}

func (it chunkItem) chunk() (rekey.Chunk, error) {
	c := rekey.Chunk{
		TaskID: it.TaskID, Index: it.Index, UserIDs: it.UserIDs, Version: it.Version,
		LeaseUntil: it.LeaseUntil.Time, Holder: it.Holder, Retakes: it.Retakes, Done: it.Done,
	}
	if it.Entries != nil {
		c.Entries = make([]rekey.ChunkEntry, len(it.Entries))
		for i, e := range it.Entries {
			c.Entries[i] = rekey.ChunkEntry{
				Result: rekey.TaskResult{
					UserID: e.UserID, Username: e.Username, FirstName: e.FirstName, LastName: e.LastName,
					ExternalID: e.ExternalID, SchoolID: e.SchoolID, Grade: e.Grade, Email: e.Email,
					Outcome: rekey.Outcome(e.Outcome), Attempts: e.Attempts, Error: e.Error, Notified: e.Notified,
					ReachedAt: e.ReachedAt.Time,
				},
				Prepared: e.Prepared, Held: e.Held, MessageID: e.MessageID, SealedPassword: e.SealedPassword,
				MailState: e.MailState,
			}
			if e.PriorStatus != "" {
				c.Entries[i].Prior = &rekey.PriorAccess{Status: rekey.Status(e.PriorStatus), MustChangePassword: e.PriorMustChange, HadPassword: e.PriorHadPassword}
			}
		}
	}
	return c, nil
}

// chunkTTL is when a task's chunks expire: with the task. The chunk does
// not know its task's creation time, so it counts from its own writes,
// which only makes it outlive the task a little.
func (s *Store) chunkTTL() time.Time { return s.now().Add(rekey.ResultRetention) }

// SavePlanPage writes the chunks of one page of a task's selection and
// moves its plan from from to to (adding users to its total, setting it
// running, and recording to.Enqueued, at most from.Chunks, so never less
// than the task records) in one transaction, on the condition that the stored plan is
// still from and the task still queued or running; otherwise
// rekey.ErrConflict and nothing is written.
func (s *Store) SavePlanPage(ctx context.Context, taskID string, from, to rekey.TaskPlan, chunks []rekey.Chunk, users int, at time.Time) error {
	var tx transaction
	absent := expression.AttributeNotExists(expression.Name("PK"))
	for _, c := range chunks {
		step, err := s.txPut(newChunkItem(c, s.chunkTTL()), absent)
		tx.add(step, err, rekey.ErrConflict)
	}
	update := expression.Set(expression.Name("planCursor"), expression.Value(to.Cursor)).
		Set(expression.Name("planChunks"), expression.Value(to.Chunks)).
		Set(expression.Name("planDone"), expression.Value(to.Done)).
		Set(expression.Name("planEnqueued"), expression.Value(to.Enqueued)).
		Set(expression.Name("status"), expression.Value(string(rekey.TaskRunning))).
		Set(expression.Name("startedAt"), expression.IfNotExists(expression.Name("startedAt"), expression.Value(formatTime(at)))).
		Add(expression.Name("total"), expression.Value(users))
	if to.Done {
		update = update.Set(expression.Name("lastProcessedAt"), expression.Value(formatTime(at)))
	}
	status := expression.Name("status")
	cond := expression.Name("planCursor").Equal(expression.Value(from.Cursor)).
		And(expression.Name("planChunks").Equal(expression.Value(from.Chunks))).
		And(expression.Name("planDone").Equal(expression.Value(false))).
		And(status.Equal(expression.Value(string(rekey.TaskQueued))).Or(status.Equal(expression.Value(string(rekey.TaskRunning)))))
	step, err := s.txUpdate(taskPK(taskID), taskSK, update, cond)
	tx.add(step, err, rekey.ErrConflict)
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: save plan of task %s: %w", taskID, err)
	}
	return nil
}

// MarkEnqueued records that the first n chunks of task taskID are on the
// work queue (it never moves the mark back).
func (s *Store) MarkEnqueued(ctx context.Context, taskID string, n int) error {
	update := expression.Set(expression.Name("planEnqueued"), expression.Value(n))
	cond := expression.Name("planEnqueued").LessThan(expression.Value(n))
	_, err := s.updateItem(ctx, taskPK(taskID), taskSK, update, &cond, rekey.ErrConflict)
	if err != nil && !errors.Is(err, rekey.ErrConflict) {
		return fmt.Errorf("dynamo: mark chunks of task %s queued: %w", taskID, err)
	}
	return nil
}

// SelectUsers returns one page of up to limit users matching f (a district
// or school, narrowed by role and grade, as ListUsers reads them) from
// cursor on, and the cursor of the next page.
func (s *Store) SelectUsers(ctx context.Context, f rekey.UserFilter, cursor string, limit int) ([]rekey.User, string, error) {
	f.Query = ""
	l, err := s.userListing(f)
	if err != nil {
		return nil, "", fmt.Errorf("dynamo: select users: %w", err)
	}
	items, next, err := s.read(ctx, l, cursor, max(limit, 1))
	if err != nil {
		return nil, "", fmt.Errorf("dynamo: select users: %w", err)
	}
	users := make([]rekey.User, 0, len(items))
	for _, item := range items {
		var it userItem
		if err := unmarshalItem(item, &it); err != nil {
			return nil, "", fmt.Errorf("dynamo: select users: %w", err)
		}
		u, err := it.user()
		if err != nil {
			return nil, "", fmt.Errorf("dynamo: select users: user %s: %w", it.ID, err)
		}
		users = append(users, u)
	}
	return users, next, nil
}

// ListChunks returns up to n chunks of task taskID from index from on, in
// order.
func (s *Store) ListChunks(ctx context.Context, taskID string, from, n int) ([]rekey.Chunk, error) {
	key := expression.Key("PK").Equal(expression.Value(taskPK(taskID))).
		And(expression.Key("SK").Between(expression.Value(chunkSK(max(from, 0))), expression.Value(chunkSK(999999))))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, fmt.Errorf("dynamo: list chunks: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		Limit: aws.Int32(int32(max(n, 1))), ConsistentRead: aws.Bool(true),
	}
	var chunks []rekey.Chunk
	for len(chunks) < n {
		resp, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dynamo: list chunks of task %s: %w", taskID, err)
		}
		for _, item := range resp.Items {
			var it chunkItem
			if err := unmarshalItem(item, &it); err != nil {
				return nil, fmt.Errorf("dynamo: list chunks of task %s: %w", taskID, err)
			}
			c, err := it.chunk()
			if err != nil {
				return nil, fmt.Errorf("dynamo: list chunks of task %s: %w", taskID, err)
			}
			chunks = append(chunks, c)
		}
		if len(resp.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = resp.LastEvaluatedKey
		in.Limit = aws.Int32(int32(n - len(chunks)))
	}
	return chunks, nil
}

// RenewChunkLease moves the lease of chunk index of task taskID on to
// until, if holder still holds it and the chunk is not done; otherwise
// rekey.ErrConflict (the lease was given back, or another worker took the
// chunk over). It leaves the chunk's version alone, so the holder's own
// writes, conditioned on it, are not disturbed.
func (s *Store) RenewChunkLease(ctx context.Context, taskID string, index int, holder string, until time.Time) error {
	_, sk := leasedIndexKeys(taskID, index, until)
	update := expression.Set(expression.Name("leaseUntil"), expression.Value(formatTime(until))).
		Set(expression.Name("GSI1PK"), expression.Value(leasedChunks)).
		Set(expression.Name("GSI1SK"), expression.Value(sk))
	cond := expression.Name("leaseHolder").Equal(expression.Value(holder)).
		And(expression.Name("done").Equal(expression.Value(false)))
	// The renewal is also how a sending worker learns of a cancel: the
	// same call checks that the task still runs (one transaction, no
	// extra round trip).
	var tx transaction
	step, err := s.txUpdate(taskPK(taskID), chunkSK(index), update, cond)
	tx.add(step, err, rekey.ErrConflict)
	check, err := s.txCheck(taskPK(taskID), taskSK, live())
	tx.add(check, err, rekey.ErrTaskEnded)
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: renew lease of chunk %d of task %s: %w", index, taskID, err)
	}
	return nil
}

// txCheck is a transaction step that only requires cond of pk/sk.
func (s *Store) txCheck(pk, sk string, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build condition: %w", err)
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(pk, sk),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// StaleChunks returns up to limit chunks (at most 100) whose lease ended
// at or before now and that nobody has been sent to since: a Query of the sparse
// GSI1 partition of held chunks, oldest first, that reads nothing else.
// The index is eventually consistent; ClaimStaleChunk checks again.
func (s *Store) StaleChunks(ctx context.Context, now time.Time, limit int) ([]rekey.Chunk, error) {
	limit = min(max(limit, 1), 100)
	key := expression.Key("GSI1PK").Equal(expression.Value(leasedChunks)).
		And(expression.Key("GSI1SK").LessThanEqual(expression.Value(formatTime(now) + "#~")))
	in, err := s.newQuery("GSI1", key, nil, false)
	if err != nil {
		return nil, fmt.Errorf("dynamo: stale chunks: %w", err)
	}
	in.Limit = aws.Int32(int32(limit))
	resp, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("dynamo: stale chunks: %w", err)
	}
	chunks := make([]rekey.Chunk, 0, len(resp.Items))
	for _, item := range resp.Items {
		var it chunkItem
		if err := unmarshalItem(item, &it); err != nil {
			return nil, fmt.Errorf("dynamo: stale chunks: %w", err)
		}
		c, err := it.chunk()
		if err != nil {
			return nil, fmt.Errorf("dynamo: stale chunks: chunk %d of task %s: %w", it.Index, it.TaskID, err)
		}
		chunks = append(chunks, c)
	}
	return chunks, nil
}

// ClaimStaleChunk records that chunk c, as StaleChunks returned it at now,
// is being put back on the work queue: its index entry moves on to
// recheckAt, so that later sweeps leave it alone until then, on the
// condition that no worker has touched the chunk since (same version and
// lease, not done) and no other sweep claimed it (its entry is still due
// at now); otherwise rekey.ErrConflict. The lease itself is left as it was,
// ended, so the worker that gets the message can take the chunk at once.
func (s *Store) ClaimStaleChunk(ctx context.Context, c rekey.Chunk, now, recheckAt time.Time) error {
	_, sk := leasedIndexKeys(c.TaskID, c.Index, recheckAt)
	update := expression.Set(expression.Name("GSI1SK"), expression.Value(sk))
	cond := expression.Name("version").Equal(expression.Value(c.Version)).
		And(expression.Name("leaseUntil").Equal(expression.Value(formatTime(c.LeaseUntil)))).
		And(expression.Name("done").Equal(expression.Value(false))).
		And(expression.Name("GSI1PK").Equal(expression.Value(leasedChunks))).
		And(expression.Name("GSI1SK").LessThanEqual(expression.Value(formatTime(now) + "#~")))
	if _, err := s.updateItem(ctx, taskPK(c.TaskID), chunkSK(c.Index), update, &cond, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: claim stale chunk %d of task %s: %w", c.Index, c.TaskID, err)
	}
	return nil
}

// batchGetter is the BatchGetItem call of *dynamodb.Client. DB leaves it
// out so that wrappers need not provide it: without it the store reads
// item by item.
type batchGetter interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// maxBatchGet is the most keys one BatchGetItem takes.
const maxBatchGet = 100

// getConcurrency is how many BatchGetItems getItems has in flight at once:
// an import's plan reads a thousand rows' claims (some 30 batches) at a
// time, and a Lambda behind the HTTP API has 29 s, so its reads must not
// wait for each other; eight keeps a Lambda's connections and the
// table's burst modest.
const getConcurrency = 8

// getItems reads the items of keys (pairs of PK and SK) with strongly
// consistent reads, in as few calls as it can, and returns them by PK and
// SK joined with "|"; missing items are left out. Its BatchGetItems of
// 100 keys run getConcurrency at a time, each retrying its own
// UnprocessedKeys; the first that fails cancels the others and is the
// error returned.
func (s *Store) getItems(ctx context.Context, keys [][2]string) (map[string]map[string]types.AttributeValue, error) {
	found := make(map[string]map[string]types.AttributeValue, len(keys))
	batcher, ok := s.db.(batchGetter)
	if !ok {
		for _, k := range keys {
			resp, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: itemKey(k[0], k[1]), ConsistentRead: aws.Bool(true)})
			if err != nil {
				return nil, err
			}
			if len(resp.Item) > 0 {
				found[k[0]+"|"+k[1]] = resp.Item
			}
		}
		return found, nil
	}
	seen := map[[2]string]bool{}
	var unique []map[string]types.AttributeValue
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			unique = append(unique, itemKey(k[0], k[1]))
		}
	}
	var batches [][]map[string]types.AttributeValue
	for start := 0; start < len(unique); start += maxBatchGet {
		batches = append(batches, unique[start:min(start+maxBatchGet, len(unique))])
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(getConcurrency)
	var mu sync.Mutex
	for _, batch := range batches {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err // another batch failed, or ctx ended: no more calls
			}
			items, err := s.batchGet(gctx, batcher, batch)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, item := range items {
				pk, _ := item["PK"].(*types.AttributeValueMemberS)
				sk, _ := item["SK"].(*types.AttributeValueMemberS)
				if pk != nil && sk != nil {
					found[pk.Value+"|"+sk.Value] = item
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return found, nil
}

// batchGet reads one batch of at most maxBatchGet keys, again and again
// (pausing longer each time) until no key is left unprocessed.
func (s *Store) batchGet(ctx context.Context, batcher batchGetter, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	pending := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if err := pause(ctx, attempt); err != nil {
				return nil, err
			}
		}
		resp, err := batcher.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return nil, err
		}
		items = append(items, resp.Responses[s.table]...)
		pending = resp.UnprocessedKeys
	}
	return items, nil
}

// pause waits a little longer after each throttled or unprocessed attempt.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(min(attempt, 6))*25*time.Millisecond + rand.N(25*time.Millisecond)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// LoadChunk reads chunk index of task taskID together with the task, its
// secrets, the creator initiatorID and the chunk's users, in one
// BatchGetItem when userIDs (which the work message carries) are the
// chunk's users. The chunk item is what counts: users it holds that were
// not asked for are read in a second call, ids it does not hold are
// ignored.
func (s *Store) LoadChunk(ctx context.Context, taskID string, index int, initiatorID string, userIDs []string) (rekey.ChunkWork, error) {
	work, err := s.loadChunk(ctx, taskID, index, initiatorID, userIDs)
	if err != nil {
		return rekey.ChunkWork{}, fmt.Errorf("dynamo: load chunk %d of task %s: %w", index, taskID, err)
	}
	return work, nil
}

func (s *Store) loadChunk(ctx context.Context, taskID string, index int, initiatorID string, userIDs []string) (rekey.ChunkWork, error) {
	pk := taskPK(taskID)
	keys := [][2]string{{pk, chunkSK(index)}, {pk, taskSK}, {pk, taskKeySK}}
	if initiatorID != "" {
		keys = append(keys, [2]string{userPK(initiatorID), userSK})
	}
	for _, id := range userIDs {
		keys = append(keys, [2]string{userPK(id), userSK})
	}
	found, err := s.getItems(ctx, keys)
	if err != nil {
		return rekey.ChunkWork{}, err
	}
	var work rekey.ChunkWork
	chunkAV, ok := found[pk+"|"+chunkSK(index)]
	if !ok {
		return rekey.ChunkWork{}, fmt.Errorf("chunk: %w", rekey.ErrNotFound)
	}
	var ci chunkItem
	if err := unmarshalItem(chunkAV, &ci); err != nil {
		return rekey.ChunkWork{}, err
	}
	if work.Chunk, err = ci.chunk(); err != nil {
		return rekey.ChunkWork{}, err
	}
	taskAV, ok := found[pk+"|"+taskSK]
	if !ok {
		return rekey.ChunkWork{}, fmt.Errorf("task: %w", rekey.ErrNotFound)
	}
	var ti taskItem
	if err := unmarshalItem(taskAV, &ti); err != nil {
		return rekey.ChunkWork{}, err
	}
	if work.Task, err = ti.record(); err != nil {
		return rekey.ChunkWork{}, err
	}
	if keyAV, ok := found[pk+"|"+taskKeySK]; ok {
		var si secretsItem
		if err := unmarshalItem(keyAV, &si); err != nil {
			return rekey.ChunkWork{}, err
		}
		if secrets, err := si.secrets(); err == nil && s.now().Before(secrets.ExpiresAt) {
			work.Secrets = secrets
		}
	}
	if av, ok := found[userPK(initiatorID)+"|"+userSK]; ok {
		if work.Initiator, err = decodeUser(av); err != nil {
			return rekey.ChunkWork{}, err
		}
	}
	work.Users = make(map[string]rekey.User, len(work.Chunk.UserIDs))
	var missing []string
	for _, id := range work.Chunk.UserIDs {
		av, ok := found[userPK(id)+"|"+userSK]
		if !ok {
			missing = append(missing, id)
			continue
		}
		if work.Users[id], err = decodeUser(av); err != nil {
			return rekey.ChunkWork{}, err
		}
	}
	missing = slices.DeleteFunc(missing, func(id string) bool { return slices.Contains(userIDs, id) })
	if len(missing) > 0 {
		more, err := s.GetUsers(ctx, missing)
		if err != nil {
			return rekey.ChunkWork{}, err
		}
		for id, u := range more {
			work.Users[id] = u
		}
	}
	return work, nil
}

// GetUsers reads the users with the given ids; missing ones are left out.
func (s *Store) GetUsers(ctx context.Context, ids []string) (map[string]rekey.User, error) {
	keys := make([][2]string, len(ids))
	for i, id := range ids {
		keys[i] = [2]string{userPK(id), userSK}
	}
	found, err := s.getItems(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("dynamo: get users: %w", err)
	}
	users := make(map[string]rekey.User, len(found))
	for _, av := range found {
		u, err := decodeUser(av)
		if err != nil {
			return nil, fmt.Errorf("dynamo: get users: %w", err)
		}
		users[u.ID] = u
	}
	return users, nil
}

func decodeUser(av map[string]types.AttributeValue) (rekey.User, error) {
	var it userItem
	if err := unmarshalItem(av, &it); err != nil {
		return rekey.User{}, err
	}
	return it.user()
}

// SaveChunk applies one step of a worker in one transaction: the users'
// changes (each only if the user is still at the version read) with their
// audit entries, the refused users' audit entries, the chunk's new state (only if it is still at
// w.ExpectVersion and not done) and w.Add ADDed to the task's counters.
// A failed condition is a *rekey.ChunkConflictError naming the users that
// changed, or saying the chunk did; nothing is written then.
func (s *Store) SaveChunk(ctx context.Context, w rekey.ChunkWrite) error {
	if err := s.saveChunk(ctx, w); err != nil {
		return fmt.Errorf("dynamo: save chunk %d of task %s: %w", w.Chunk.Index, w.Chunk.TaskID, err)
	}
	return nil
}

func (s *Store) saveChunk(ctx context.Context, w rekey.ChunkWrite) error {
	if len(w.Users) > rekey.MaxUsersPerWrite {
		return fmt.Errorf("%d user writes, at most %d", len(w.Users), rekey.MaxUsersPerWrite)
	}
	if w.FinishProbe != nil && (w.RequireLive || w.Add == nil) {
		return errors.New("a finish probe needs counts to add and no liveness check")
	}
	var steps []types.TransactWriteItem
	var owners []string // the user id of each user step
	for _, u := range w.Users {
		if err := rekey.CheckPasswordUpdate(u.Before, u.After); err != nil {
			return fmt.Errorf("user %s: %w", u.Before.ID, err)
		}
		step, err := s.txPut(newUserItem(u.After), expression.Name("version").Equal(expression.Value(u.Before.Version)))
		if err != nil {
			return err
		}
		steps = append(steps, step)
		owners = append(owners, u.Before.ID)
	}
	cond := expression.Name("version").Equal(expression.Value(w.ExpectVersion)).
		And(expression.Name("done").Equal(expression.Value(false)))
	step, err := s.txPut(newChunkItem(w.Chunk, s.chunkTTL()), cond)
	if err != nil {
		return err
	}
	steps = append(steps, step)
	if c := w.Add; c != nil {
		update := expression.Add(expression.Name("processed"), expression.Value(c.Processed)).
			Add(expression.Name("succeeded"), expression.Value(c.Succeeded)).
			Add(expression.Name("emailed"), expression.Value(c.Emailed)).
			Add(expression.Name("noEmail"), expression.Value(c.NoEmail)).
			Add(expression.Name("notified"), expression.Value(c.Notified)).
			Add(expression.Name("failed"), expression.Value(c.Failed)).
			Add(expression.Name("skipped"), expression.Value(c.Skipped)).
			Set(expression.Name("lastProcessedAt"), expression.Value(formatTime(w.At))).
			Remove(expression.Name("waiting")).
			Remove(expression.Name("estimatedFinishAt"))
		taskCond := expression.AttributeExists(expression.Name("PK"))
		if w.RequireLive {
			taskCond = taskCond.And(live())
		}
		if w.FinishProbe != nil {
			taskCond = taskCond.And(goesOn(*w.FinishProbe - c.Processed))
		}
		step, err := s.txUpdate(taskPK(w.Chunk.TaskID), taskSK, update, taskCond)
		if err != nil {
			return err
		}
		steps = append(steps, step)
	} else if w.RequireLive {
		step, err := s.txCheck(taskPK(w.Chunk.TaskID), taskSK, live())
		if err != nil {
			return err
		}
		steps = append(steps, step)
	}
	taskStep := w.Add != nil || w.RequireLive
	// The audit entries go last: their conditions (a new item) never fail.
	audits := append([]rekey.AuditEntry(nil), w.Refusals...)
	for _, u := range w.Users {
		if u.Audit != nil {
			audits = append(audits, *u.Audit)
		}
	}
	for _, a := range audits {
		step, err := s.txPut(newAuditItem(s.completeAudit(a)), expression.AttributeNotExists(expression.Name("PK")))
		if err != nil {
			return err
		}
		steps = append(steps, step)
	}
	// The sent emails' lookups too: they have no condition.
	for _, m := range w.Sent {
		step, err := s.txSent(m)
		if err != nil {
			return err
		}
		steps = append(steps, step)
	}
	if len(steps) > rekey.MaxWriteItems {
		return fmt.Errorf("%d items in one transaction, at most %d", len(steps), rekey.MaxWriteItems)
	}

	reasons, err := s.transactReasons(ctx, steps)
	if err != nil || reasons == nil {
		return err
	}
	conflict := &rekey.ChunkConflictError{}
	for i, code := range reasons {
		if code != "ConditionalCheckFailed" {
			continue
		}
		switch {
		case i < len(owners):
			conflict.Users = append(conflict.Users, owners[i])
		case i == len(owners):
			conflict.ChunkChanged = true
		case i == len(owners)+1 && w.RequireLive:
			conflict.TaskEnded = true
		case i == len(owners)+1 && w.FinishProbe != nil:
			// The task missing fails the probe too: the write again
			// without it says so.
			conflict.MayFinish = true
		case i == len(owners)+1 && taskStep:
			return fmt.Errorf("task: %w", rekey.ErrNotFound)
		default:
			return fmt.Errorf("audit entry %d already written: %w", i, rekey.ErrConflict)
		}
	}
	if len(conflict.Users) == 0 && !conflict.ChunkChanged && !conflict.TaskEnded && !conflict.MayFinish {
		return fmt.Errorf("transaction cancelled: %v", reasons)
	}
	return conflict
}

// goesOn is a chunk write's finish probe (rekey.ChunkWrite.FinishProbe):
// the task is still being planned, or its processed counter is below
// limit (its total as read, less what the write adds) before the write.
func goesOn(limit int) expression.ConditionBuilder {
	return expression.Name("planDone").Equal(expression.Value(false)).
		Or(expression.Name("processed").LessThan(expression.Value(limit)))
}

// Key prefix and sort key of the daily send counters.
const (
	sendCountPrefix = "SENDS#"
	sendCountSK     = "COUNT"
)

// sendCountItem counts the emails bulk workers sent on one UTC day.
type sendCountItem struct {
	Used int `dynamodbav:"used"`
}

// AcquireDailySends counts up to want emails against the limit of day
// (e.g. "2026-09-01") and returns how many it granted: want while they fit,
// what is left when fewer do, 0 when the day's quota is used up.
func (s *Store) AcquireDailySends(ctx context.Context, day string, want, limit int) (int, error) {
	if want <= 0 {
		return 0, nil
	}
	pk := sendCountPrefix + day
	ttl := expression.Value(ttlAfter(s.now().Add(48 * time.Hour)))
	for attempt := 0; attempt < 3; attempt++ {
		var it sendCountItem
		err := s.getItem(ctx, pk, sendCountSK, &it)
		if err != nil && !errors.Is(err, rekey.ErrNotFound) {
			return 0, fmt.Errorf("dynamo: count daily sends: %w", err)
		}
		grant := min(want, limit-it.Used)
		if grant <= 0 {
			return 0, nil
		}
		cond := expression.AttributeNotExists(expression.Name("used"))
		if err == nil {
			cond = expression.Name("used").Equal(expression.Value(it.Used))
		}
		update := expression.Add(expression.Name("used"), expression.Value(grant)).
			Set(expression.Name("ttl"), expression.IfNotExists(expression.Name("ttl"), ttl))
		_, err = s.updateItem(ctx, pk, sendCountSK, update, &cond, rekey.ErrConflict)
		if err == nil {
			return grant, nil
		}
		if !errors.Is(err, rekey.ErrConflict) {
			return 0, fmt.Errorf("dynamo: count daily sends: %w", err)
		}
	}
	return 0, nil
}

// SeedUsers writes users and their username, email and externalId claims with
// BatchWriteItem, 25 items a call, without the uniqueness checks of
// CreateUser: for loading demo and benchmark data into an empty table only.
func (s *Store) SeedUsers(ctx context.Context, users []rekey.User) error {
	writer, ok := s.db.(interface {
		BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	})
	if !ok {
		for _, u := range users {
			if err := s.CreateUser(ctx, u, nil); err != nil {
				return err
			}
		}
		return nil
	}
	var requests []types.WriteRequest
	add := func(item any) error {
		av, err := marshalItem(item)
		if err != nil {
			return err
		}
		requests = append(requests, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
		return nil
	}
	for _, u := range users {
		if err := add(newUserItem(u)); err != nil {
			return fmt.Errorf("dynamo: seed users: %w", err)
		}
		if err := add(claimItem{PK: usernamePK(u.Username), SK: claimSK, UserID: u.ID}); err != nil {
			return fmt.Errorf("dynamo: seed users: %w", err)
		}
		if u.Email != "" {
			if err := add(claimItem{PK: emailPK(u.Email), SK: claimSK, UserID: u.ID}); err != nil {
				return fmt.Errorf("dynamo: seed users: %w", err)
			}
		}
		if pk := externalPK(u.DistrictID, u.ExternalID); pk != "" {
			if err := add(claimItem{PK: pk, SK: claimSK, UserID: u.ID}); err != nil {
				return fmt.Errorf("dynamo: seed users: %w", err)
			}
		}
	}
	for start := 0; start < len(requests); start += 25 {
		pending := map[string][]types.WriteRequest{s.table: requests[start:min(start+25, len(requests))]}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if err := pause(ctx, attempt); err != nil {
					return err
				}
			}
			resp, err := writer.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("dynamo: seed users: %w", err)
			}
			pending = resp.UnprocessedItems
		}
	}
	return nil
}
