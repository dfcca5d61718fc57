package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// bulkState is what the bulk pipeline stores: tasks, their secrets and
// chunks, Idempotency-Keys and the daily send counters.
type bulkState struct {
	tasks   map[string]rekey.TaskRecord
	secrets map[string]rekey.TaskSecrets
	keys    map[string]rekey.Idempotency // by key: Key holds the task id
	chunks  map[string]map[int]storedChunk
	sends   map[string]int // by UTC day
	// messages are the sent emails' lookups (the DynamoDB store's
	// MSG#<id> items), by SES message id.
	messages map[string]sentMessage
}

// storedChunk is a chunk with the time the sweeper looks at it again
// (the DynamoDB store's sparse index of held chunks): its lease's end, or
// the recheck time of a sweep that put it back on the queue.
type storedChunk struct {
	rekey.Chunk
	sweepAt time.Time
}

func newBulkState() bulkState {
	return bulkState{
		tasks: map[string]rekey.TaskRecord{}, secrets: map[string]rekey.TaskSecrets{},
		keys: map[string]rekey.Idempotency{}, chunks: map[string]map[int]storedChunk{}, sends: map[string]int{},
		messages: map[string]sentMessage{},
	}
}

// cloneChunk copies c so that the caller and the store share no slice, as
// they would not across DynamoDB.
func cloneChunk(c rekey.Chunk) rekey.Chunk {
	c.UserIDs = slices.Clone(c.UserIDs)
	c.Entries = slices.Clone(c.Entries)
	return c
}

// CreateTask writes a new task (and its secrets and audit entry) in one
// step; with an idempotency key it also claims the key with its request
// hash, and a key used before returns the task it started instead, created
// false, or rekey.ErrIdempotencyKeyReused when it came with another
// request. A task id used before is rekey.ErrConflict.
func (s *Store) CreateTask(_ context.Context, rec rekey.TaskRecord, secrets *rekey.TaskSecrets, idem rekey.Idempotency, audit rekey.AuditEntry) (string, bool, error) {
	id := rec.Task.ID
	if !rekey.ValidID(id) || rec.Task.CreatedAt.IsZero() {
		return "", false, fmt.Errorf("memstore: create task: id %q and createdAt are required", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if first, ok := s.bulk.keys[idem.Key]; ok && idem.Key != "" {
		if first.RequestHash != "" && first.RequestHash != idem.RequestHash {
			return "", false, fmt.Errorf("memstore: create task: %w", rekey.ErrIdempotencyKeyReused)
		}
		return first.Key, false, nil
	}
	if _, ok := s.bulk.tasks[id]; ok {
		return "", false, fmt.Errorf("memstore: create task %s: %w", id, rekey.ErrConflict)
	}
	s.bulk.tasks[id] = rec
	if secrets != nil {
		s.bulk.secrets[id] = *secrets
	}
	if idem.Key != "" {
		s.bulk.keys[idem.Key] = rekey.Idempotency{Key: id, RequestHash: idem.RequestHash}
	}
	s.addAudit(&audit)
	return id, true, nil
}

// GetTask returns task id, or rekey.ErrNotFound.
func (s *Store) GetTask(_ context.Context, id string) (rekey.TaskRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bulk.tasks[id]
	if !ok {
		return rekey.TaskRecord{}, fmt.Errorf("memstore: get task %s: %w", id, rekey.ErrNotFound)
	}
	return ownFunnel(rec), nil
}

// GetTaskSecrets returns task id's sealed key, or rekey.ErrNotFound when it
// has none or they have expired.
func (s *Store) GetTaskSecrets(_ context.Context, id string) (rekey.TaskSecrets, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets, ok := s.bulk.secrets[id]
	if !ok || !s.now().Before(secrets.ExpiresAt) {
		return rekey.TaskSecrets{}, fmt.Errorf("memstore: get task key %s: %w", id, rekey.ErrNotFound)
	}
	return secrets, nil
}

// ListTasks returns one page of tasks, newest first: every task or a
// district's, narrowed to those created by f.CreatedBy or by someone of
// school f.CreatorSchoolID when either is set, and to the tasks of schedule
// f.ScheduleID when it is set.
func (s *Store) ListTasks(_ context.Context, f rekey.TaskFilter) ([]rekey.TaskRecord, string, error) {
	if !f.AllDistricts && f.DistrictID == "" {
		return nil, "", nil
	}
	s.mu.Lock()
	var all []rekey.TaskRecord
	for _, rec := range s.bulk.tasks {
		mine := f.CreatedBy == "" && f.CreatorSchoolID == "" ||
			f.CreatedBy != "" && rec.Task.CreatedBy == f.CreatedBy ||
			f.CreatorSchoolID != "" && rec.CreatorSchoolID == f.CreatorSchoolID
		scheduled := f.ScheduleID == "" || rec.Task.ScheduleID == f.ScheduleID
		if (f.AllDistricts || rec.Task.DistrictID == f.DistrictID) && mine && scheduled {
			all = append(all, ownFunnel(rec))
		}
	}
	s.mu.Unlock()
	key := func(rec rekey.TaskRecord) string {
		return rec.Task.CreatedAt.UTC().Format(sortableTime) + "#" + rec.Task.ID
	}
	slices.SortFunc(all, func(a, b rekey.TaskRecord) int { return strings.Compare(key(b), key(a)) })
	items, next, err := page(all, key, true, f.Cursor, rekey.TaskPaging.Clamp(f.Limit))
	if err != nil {
		return nil, "", fmt.Errorf("memstore: list tasks: %w", err)
	}
	return items, next, nil
}

// live reports whether a task still runs: queued or running, not
// cancelled or failed (a missing task is not live).
func live(rec rekey.TaskRecord) bool {
	return rec.Task.Status == rekey.TaskQueued || rec.Task.Status == rekey.TaskRunning
}

// unfinished reports whether a task may still change state: queued or
// running, and not fully planned and processed.
func unfinished(rec rekey.TaskRecord) bool {
	active := rec.Task.Status == rekey.TaskQueued || rec.Task.Status == rekey.TaskRunning
	return active && !(rec.Plan.Done && rec.Task.Processed >= rec.Task.Total)
}

// CancelTask sets task id to cancelled with reason, at audit.At, and writes
// audit; a finished (or missing) task is rekey.ErrConflict. It returns the
// task as it is afterwards.
func (s *Store) CancelTask(_ context.Context, id, reason string, audit rekey.AuditEntry) (rekey.TaskRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bulk.tasks[id]
	if !ok || !unfinished(rec) {
		return rekey.TaskRecord{}, fmt.Errorf("memstore: cancel task %s: %w", id, rekey.ErrConflict)
	}
	at := audit.At
	if at.IsZero() {
		at = s.now()
	}
	rec.Task.Status, rec.Task.FinishedAt, rec.Reason = rekey.TaskCancelled, at, reason
	rec.Task.Waiting, rec.Task.EstimatedFinishAt = "", time.Time{}
	s.bulk.tasks[id] = rec
	s.addAudit(&audit)
	return rec, nil
}

// DecideTask records the second person's decision on task id, which must
// still be awaiting approval (else rekey.ErrConflict, nothing written):
// approved, it becomes queued with approvedBy; rejected, it ends cancelled
// with reason. audit is written with it. It returns the task as it is
// afterwards.
func (s *Store) DecideTask(_ context.Context, id string, approve bool, reason string, audit rekey.AuditEntry) (rekey.TaskRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bulk.tasks[id]
	if !ok || rec.Task.Status != rekey.TaskAwaitingApproval {
		return rekey.TaskRecord{}, fmt.Errorf("memstore: decide task %s: %w", id, rekey.ErrConflict)
	}
	at := audit.At
	if at.IsZero() {
		at = s.now()
	}
	rec.Task.DecidedAt = at
	if approve {
		rec.Task.Status, rec.Task.ApprovedBy = rekey.TaskQueued, audit.ActorID
	} else {
		rec.Task.Status, rec.Task.FinishedAt, rec.Reason = rekey.TaskCancelled, at, reason
	}
	s.bulk.tasks[id] = rec
	s.addAudit(&audit)
	return rec, nil
}

// FailTask ends task id as failed, saying why, unless it has finished.
func (s *Store) FailTask(_ context.Context, id, reason string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.bulk.tasks[id]; ok && unfinished(rec) {
		rec.Task.Status, rec.Task.FinishedAt, rec.Reason = rekey.TaskFailed, at, reason
		s.bulk.tasks[id] = rec
	}
	return nil
}

// ClaimFinishNotice records, at at, that the email telling task id's
// creator it finished is being sent, unless it was claimed before
// (rekey.ErrConflict); a missing task is rekey.ErrConflict too.
func (s *Store) ClaimFinishNotice(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bulk.tasks[id]
	if !ok || !rec.FinishNoticeAt.IsZero() {
		return fmt.Errorf("memstore: claim the finish notice of task %s: %w", id, rekey.ErrConflict)
	}
	rec.FinishNoticeAt = at
	s.bulk.tasks[id] = rec
	return nil
}

// ReleaseFinishNotice gives back the claim ClaimFinishNotice made at at.
func (s *Store) ReleaseFinishNotice(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bulk.tasks[id]
	if !ok || !rec.FinishNoticeAt.Equal(at) {
		return fmt.Errorf("memstore: release the finish notice of task %s: %w", id, rekey.ErrConflict)
	}
	rec.FinishNoticeAt = time.Time{}
	s.bulk.tasks[id] = rec
	return nil
}

// SetWaiting records why task id is paused and when it should finish; a
// missing task is rekey.ErrNotFound.
func (s *Store) SetWaiting(_ context.Context, id, waiting string, estimatedFinishAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bulk.tasks[id]
	if !ok {
		return fmt.Errorf("memstore: set task %s waiting: %w", id, rekey.ErrNotFound)
	}
	rec.Task.Waiting, rec.Task.EstimatedFinishAt = waiting, estimatedFinishAt
	s.bulk.tasks[id] = rec
	return nil
}

// SaveFunnel remembers f, worked out at at, on task id, leaving the rest
// of the task alone; rekey.ErrConflict when the task is gone or already
// holds a funnel worked out after at.
func (s *Store) SaveFunnel(_ context.Context, id string, f rekey.Funnel, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bulk.tasks[id]
	if !ok || rec.FunnelAt.After(at) {
		return fmt.Errorf("memstore: save the funnel of task %s: %w", id, rekey.ErrConflict)
	}
	rec.Funnel, rec.FunnelAt = &f, at
	s.bulk.tasks[id] = rec
	return nil
}

// ownFunnel gives rec a funnel of its own, so that the caller and the
// store share none, as they would not across DynamoDB.
func ownFunnel(rec rekey.TaskRecord) rekey.TaskRecord {
	if rec.Funnel != nil {
		f := *rec.Funnel
		rec.Funnel = &f
	}
	return rec
}

// SelectUsers returns one page of up to limit users matching f (as
// ListUsers reads them, without the text search) from cursor on, and the
// cursor of the next page.
func (s *Store) SelectUsers(_ context.Context, f rekey.UserFilter, cursor string, limit int) ([]rekey.User, string, error) {
	f.Query, f.Cursor = "", cursor
	p, err := s.userPage(f, max(limit, 1))
	if err != nil {
		return nil, "", fmt.Errorf("memstore: select users: %w", err)
	}
	return p.Items, p.Next, nil
}

// SavePlanPage writes the chunks of one page of a task's selection and
// moves its plan from from to to (adding users to its total and setting it
// running) in one step, on the condition that the stored plan is still
// from, not done, the task still queued or running, and none of the chunks
// exists; otherwise rekey.ErrConflict and nothing is written.
func (s *Store) SavePlanPage(_ context.Context, taskID string, from, to rekey.TaskPlan, chunks []rekey.Chunk, users int, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bulk.tasks[taskID]
	active := rec.Task.Status == rekey.TaskQueued || rec.Task.Status == rekey.TaskRunning
	if !ok || !active || rec.Plan.Cursor != from.Cursor || rec.Plan.Chunks != from.Chunks || rec.Plan.Done {
		return fmt.Errorf("memstore: save plan of task %s: %w", taskID, rekey.ErrConflict)
	}
	for _, c := range chunks {
		if _, taken := s.bulk.chunks[c.TaskID][c.Index]; taken {
			return fmt.Errorf("memstore: save plan of task %s: chunk %d exists: %w", taskID, c.Index, rekey.ErrConflict)
		}
	}
	for _, c := range chunks {
		s.putChunk(c)
	}
	rec.Plan.Cursor, rec.Plan.Chunks, rec.Plan.Done, rec.Plan.Enqueued = to.Cursor, to.Chunks, to.Done, to.Enqueued
	rec.Task.Status = rekey.TaskRunning
	rec.Task.Total += users
	if rec.StartedAt.IsZero() {
		rec.StartedAt = at
	}
	if to.Done {
		rec.LastProcessedAt = at
	}
	s.bulk.tasks[taskID] = rec
	return nil
}

// putChunk stores c, indexed for the sweeper while it holds a lease; the
// caller holds mu.
func (s *Store) putChunk(c rekey.Chunk) {
	byIndex := s.bulk.chunks[c.TaskID]
	if byIndex == nil {
		byIndex = map[int]storedChunk{}
		s.bulk.chunks[c.TaskID] = byIndex
	}
	stored := storedChunk{Chunk: cloneChunk(c)}
	if !c.Done {
		stored.sweepAt = c.LeaseUntil
	}
	byIndex[c.Index] = stored
}

// MarkEnqueued records that the first n chunks of task taskID are on the
// work queue (it never moves the mark back).
func (s *Store) MarkEnqueued(_ context.Context, taskID string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.bulk.tasks[taskID]; ok && rec.Plan.Enqueued < n {
		rec.Plan.Enqueued = n
		s.bulk.tasks[taskID] = rec
	}
	return nil
}

// ListChunks returns up to n chunks of task taskID from index from on, in
// order.
func (s *Store) ListChunks(_ context.Context, taskID string, from, n int) ([]rekey.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rekey.Chunk
	for _, c := range s.bulk.chunks[taskID] {
		if c.Index >= from {
			out = append(out, cloneChunk(c.Chunk))
		}
	}
	slices.SortFunc(out, func(a, b rekey.Chunk) int { return a.Index - b.Index })
	return out[:min(len(out), max(n, 0))], nil
}

// LoadChunk reads a chunk with its task, the task's unexpired secrets, the
// initiator (zero when gone) and the chunk's users that exist, in one
// step; a missing chunk or task is rekey.ErrNotFound. (userIDs only saves
// the DynamoDB store a round trip.)
func (s *Store) LoadChunk(_ context.Context, taskID string, index int, initiatorID string, _ []string) (rekey.ChunkWork, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.bulk.chunks[taskID][index]
	if !ok {
		return rekey.ChunkWork{}, fmt.Errorf("memstore: load chunk %d of task %s: chunk: %w", index, taskID, rekey.ErrNotFound)
	}
	rec, ok := s.bulk.tasks[taskID]
	if !ok {
		return rekey.ChunkWork{}, fmt.Errorf("memstore: load chunk %d of task %s: task: %w", index, taskID, rekey.ErrNotFound)
	}
	work := rekey.ChunkWork{Chunk: cloneChunk(c.Chunk), Task: rec, Initiator: s.users[initiatorID], Users: map[string]rekey.User{}}
	if secrets, ok := s.bulk.secrets[taskID]; ok && s.now().Before(secrets.ExpiresAt) {
		work.Secrets = secrets
	}
	for _, id := range c.UserIDs {
		if u, ok := s.users[id]; ok {
			work.Users[id] = u
		}
	}
	return work, nil
}

// SaveChunk applies one worker step at once or not at all: each user
// write (only if the user is still at its Before version), the audit
// entries, the chunk's new state (only if it is still at w.ExpectVersion
// and not done) and w.Add added to the task's counters. A failed condition
// is a *rekey.ChunkConflictError naming the users that changed, or saying
// the chunk did; a missing task (with w.Add) is rekey.ErrNotFound.
func (s *Store) SaveChunk(_ context.Context, w rekey.ChunkWrite) error {
	if err := s.saveChunk(w); err != nil {
		return fmt.Errorf("memstore: save chunk %d of task %s: %w", w.Chunk.Index, w.Chunk.TaskID, err)
	}
	return nil
}

func (s *Store) saveChunk(w rekey.ChunkWrite) error {
	if len(w.Users) > rekey.MaxUsersPerWrite {
		return fmt.Errorf("%d user writes, at most %d", len(w.Users), rekey.MaxUsersPerWrite)
	}
	if w.FinishProbe != nil && (w.RequireLive || w.Add == nil) {
		return errors.New("a finish probe needs counts to add and no liveness check")
	}
	audits := 0
	for _, u := range w.Users {
		if err := rekey.CheckPasswordUpdate(u.Before, u.After); err != nil {
			return fmt.Errorf("user %s: %w", u.Before.ID, err)
		}
		if u.Audit != nil {
			audits++
		}
	}
	items := len(w.Users) + 1 + audits + len(w.Refusals) + len(w.Sent)
	if w.Add != nil || w.RequireLive {
		items++
	}
	if items > rekey.MaxWriteItems {
		return fmt.Errorf("%d items in one transaction, at most %d", items, rekey.MaxWriteItems)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conflict := &rekey.ChunkConflictError{}
	for _, u := range w.Users {
		if stored, ok := s.users[u.Before.ID]; !ok || stored.Version != u.Before.Version {
			conflict.Users = append(conflict.Users, u.Before.ID)
		}
	}
	stored, ok := s.bulk.chunks[w.Chunk.TaskID][w.Chunk.Index]
	conflict.ChunkChanged = !ok || stored.Version != w.ExpectVersion || stored.Done
	if len(conflict.Users) > 0 || conflict.ChunkChanged {
		return conflict
	}
	rec, ok := s.bulk.tasks[w.Chunk.TaskID]
	if w.RequireLive && !live(rec) {
		return &rekey.ChunkConflictError{TaskEnded: true}
	}
	if w.FinishProbe != nil && (!ok || rec.Plan.Done && rec.Task.Processed+w.Add.Processed >= *w.FinishProbe) {
		return &rekey.ChunkConflictError{MayFinish: true}
	}
	if w.Add != nil && !ok {
		return fmt.Errorf("task: %w", rekey.ErrNotFound)
	}
	for _, u := range w.Users {
		s.users[u.After.ID] = u.After
	}
	s.putChunk(w.Chunk)
	if c := w.Add; c != nil {
		rec.Task.Add(*c)
		rec.Task.Waiting, rec.Task.EstimatedFinishAt = "", time.Time{}
		rec.LastProcessedAt = w.At
		s.bulk.tasks[w.Chunk.TaskID] = rec
	}
	for _, a := range w.Refusals {
		s.addAudit(&a)
	}
	for _, u := range w.Users {
		s.addAudit(u.Audit)
	}
	s.recordSent(w.Sent)
	return nil
}

// RenewChunkLease moves the lease of chunk index of task taskID on to
// until, if holder still holds it and the chunk is not done; otherwise
// rekey.ErrConflict. It leaves the chunk's version alone.
func (s *Store) RenewChunkLease(_ context.Context, taskID string, index int, holder string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.bulk.chunks[taskID][index]
	if !ok || holder == "" || c.Holder != holder || c.Done {
		return fmt.Errorf("memstore: renew lease of chunk %d of task %s: %w", index, taskID, rekey.ErrConflict)
	}
	// The renewal is how a sending worker learns of a cancel.
	if !live(s.bulk.tasks[taskID]) {
		return fmt.Errorf("memstore: renew lease of chunk %d of task %s: %w", index, taskID, rekey.ErrTaskEnded)
	}
	c.LeaseUntil, c.sweepAt = until, until
	s.bulk.chunks[taskID][index] = c
	return nil
}

// StaleChunks returns up to limit chunks (at most 100), not done, that the
// sweeper should look at by now: their lease ended at or before now and no
// sweep claimed them since. Oldest first.
func (s *Store) StaleChunks(_ context.Context, now time.Time, limit int) ([]rekey.Chunk, error) {
	s.mu.Lock()
	var due []storedChunk
	for _, byIndex := range s.bulk.chunks {
		for _, c := range byIndex {
			if !c.Done && !c.sweepAt.IsZero() && !c.sweepAt.After(now) {
				due = append(due, c)
			}
		}
	}
	s.mu.Unlock()
	key := func(c storedChunk) string {
		return fmt.Sprintf("%s#%s#%06d", c.sweepAt.UTC().Format(sortableTime), c.TaskID, c.Index)
	}
	slices.SortFunc(due, func(a, b storedChunk) int { return strings.Compare(key(a), key(b)) })
	out := make([]rekey.Chunk, 0, min(len(due), 100))
	for _, c := range due[:min(len(due), max(limit, 1), 100)] {
		out = append(out, cloneChunk(c.Chunk))
	}
	return out, nil
}

// ClaimStaleChunk records that chunk c, as StaleChunks returned it at now,
// is being put back on the work queue, so that sweeps leave it alone until
// recheckAt, on the condition that no worker touched it since (same
// version and lease, not done) and no other sweep claimed it; otherwise
// rekey.ErrConflict. The lease itself stays as it was, ended.
func (s *Store) ClaimStaleChunk(_ context.Context, c rekey.Chunk, now, recheckAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.bulk.chunks[c.TaskID][c.Index]
	if !ok || stored.Version != c.Version || !stored.LeaseUntil.Equal(c.LeaseUntil) || stored.Done ||
		stored.sweepAt.IsZero() || stored.sweepAt.After(now) {
		return fmt.Errorf("memstore: claim stale chunk %d of task %s: %w", c.Index, c.TaskID, rekey.ErrConflict)
	}
	stored.sweepAt = recheckAt
	s.bulk.chunks[c.TaskID][c.Index] = stored
	return nil
}

// AcquireDailySends counts up to want emails against the limit of day and
// returns how many it granted: want while they fit, what is left when
// fewer do, 0 when the day's quota is used up.
func (s *Store) AcquireDailySends(_ context.Context, day string, want, limit int) (int, error) {
	if want <= 0 {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	grant := min(want, limit-s.bulk.sends[day])
	if grant <= 0 {
		return 0, nil
	}
	s.bulk.sends[day] += grant
	return grant, nil
}

// SeedTask stores rec, its secrets (when not nil) and chunks as they are,
// without the conditions of CreateTask and SavePlanPage: for tests that
// start from a task in a given state (the DynamoDB store has no such write).
func (s *Store) SeedTask(rec rekey.TaskRecord, secrets *rekey.TaskSecrets, chunks ...rekey.Chunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bulk.tasks[rec.Task.ID] = rec
	if secrets != nil {
		s.bulk.secrets[rec.Task.ID] = *secrets
	}
	for _, c := range chunks {
		s.putChunk(c)
	}
}
