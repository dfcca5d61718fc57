package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/rekey"
)

// synthStore is the planner's and the worker's store in memory for one
// task over n synthetic students (u000000, u000001, … of school s1), made
// up when read, so that its own memory does not grow with the task: what
// the memory figures measure is the pipeline's. It keeps only a chunk's
// bounds, the chunks in progress and the task's counters.
//
// It is not shared/memstore on purpose: that store keeps every user and
// every chunk with its entries, as DynamoDB does, so at 100,000 users its
// own heap would hide the pipeline's, which is what benchMemory measures.
// The stores' semantics are proven by the contract suite (storetest), not
// by the benchmark.
type synthStore struct {
	n       int
	admin   rekey.User
	secrets rekey.TaskSecrets

	mu       sync.Mutex
	task     rekey.TaskRecord
	bounds   map[int][2]int      // chunk → first user, count
	inFlight map[int]rekey.Chunk // chunks started and not done
	done     map[int]bool        // chunks done
	versions map[string]int      // users written, by id → version
}

func newSynthStore(n int, rec rekey.TaskRecord) *synthStore {
	admin := rekey.User{ID: "da1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Username: "district.admin", Status: rekey.StatusActive, Version: 1}
	return &synthStore{n: n, admin: admin, task: rec, bounds: map[int][2]int{}, inFlight: map[int]rekey.Chunk{}, done: map[int]bool{}, versions: map[string]int{}}
}

func userID(i int) string { return fmt.Sprintf("u%06d", i) }

// user makes up student i as it stands.
func (s *synthStore) user(i int) rekey.User {
	id := userID(i)
	version := 1
	if v, ok := s.versions[id]; ok {
		version = v
	}
	return rekey.User{
		ID: id, DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Status: rekey.StatusActive,
		Username: fmt.Sprintf("pupil%06d", i), FirstName: "Pupil", LastName: fmt.Sprintf("N%06d", i),
		Email: fmt.Sprintf("pupil%06d@bench.example.org", i), Grade: "5", Version: version, SessionGen: 1,
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	}
}

func (s *synthStore) GetTask(context.Context, string) (rekey.TaskRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.task, nil
}

// GetSchool knows no school: synthetic users sign in with Rekey.
func (s *synthStore) GetSchool(_ context.Context, id string) (rekey.School, error) {
	return rekey.School{}, fmt.Errorf("synth: school %s: %w", id, rekey.ErrNotFound)
}

// ClaimFinishNotice claims the task's finish email once.
func (s *synthStore) ClaimFinishNotice(_ context.Context, _ string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.task.FinishNoticeAt.IsZero() {
		return rekey.ErrConflict
	}
	s.task.FinishNoticeAt = at
	return nil
}

// ReleaseFinishNotice gives the claim back.
func (s *synthStore) ReleaseFinishNotice(context.Context, string, time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.task.FinishNoticeAt = time.Time{}
	return nil
}

func (s *synthStore) GetUser(_ context.Context, id string) (rekey.User, error) {
	if id == s.admin.ID {
		return s.admin, nil
	}
	return rekey.User{}, rekey.ErrNotFound
}

func (s *synthStore) FailTask(_ context.Context, _, reason string, _ time.Time) error {
	return fmt.Errorf("task failed: %s", reason)
}

func (s *synthStore) SelectUsers(_ context.Context, _ rekey.UserFilter, cursor string, limit int) ([]rekey.User, string, error) {
	start := 0
	if cursor != "" {
		start, _ = strconv.Atoi(cursor)
	}
	end := min(start+limit, s.n)
	s.mu.Lock()
	users := make([]rekey.User, 0, end-start)
	for i := start; i < end; i++ {
		users = append(users, s.user(i))
	}
	s.mu.Unlock()
	next := ""
	if end < s.n {
		next = strconv.Itoa(end)
	}
	return users, next, nil
}

func (s *synthStore) SavePlanPage(_ context.Context, _ string, from, to rekey.TaskPlan, chunks []rekey.Chunk, users int, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.task.Plan.Cursor != from.Cursor || s.task.Plan.Chunks != from.Chunks {
		return rekey.ErrConflict
	}
	for _, c := range chunks {
		first, _ := strconv.Atoi(c.UserIDs[0][1:])
		s.bounds[c.Index] = [2]int{first, len(c.UserIDs)}
	}
	s.task.Plan.Cursor, s.task.Plan.Chunks, s.task.Plan.Done = to.Cursor, to.Chunks, to.Done
	s.task.Task.Total += users
	s.task.Task.Status = rekey.TaskRunning
	if s.task.StartedAt.IsZero() {
		s.task.StartedAt = at
	}
	return nil
}

func (s *synthStore) MarkEnqueued(_ context.Context, _ string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.task.Plan.Enqueued = max(s.task.Plan.Enqueued, n)
	return nil
}

func (s *synthStore) LoadChunk(_ context.Context, taskID string, index int, _ string, _ []string) (rekey.ChunkWork, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bounds[index]
	if !ok {
		return rekey.ChunkWork{}, rekey.ErrNotFound
	}
	c, started := s.inFlight[index]
	if !started {
		c = rekey.Chunk{TaskID: taskID, Index: index, Done: s.done[index]}
		for i := b[0]; i < b[0]+b[1]; i++ {
			c.UserIDs = append(c.UserIDs, userID(i))
		}
	}
	work := rekey.ChunkWork{Chunk: c, Task: s.task, Secrets: s.secrets, Initiator: s.admin, Users: map[string]rekey.User{}}
	for i := b[0]; i < b[0]+b[1]; i++ {
		work.Users[userID(i)] = s.user(i)
	}
	return work, nil
}

func (s *synthStore) SaveChunk(_ context.Context, w rekey.ChunkWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	current, started := s.inFlight[w.Chunk.Index]
	if s.done[w.Chunk.Index] || (started && current.Version != w.ExpectVersion) || (!started && w.ExpectVersion != 0) {
		return &rekey.ChunkConflictError{ChunkChanged: true}
	}
	for _, u := range w.Users {
		s.versions[u.After.ID] = u.After.Version
	}
	if c := w.Add; c != nil {
		s.task.Task.Add(*c)
		s.task.LastProcessedAt = w.At
	}
	if !w.Chunk.Done {
		s.inFlight[w.Chunk.Index] = w.Chunk
		return nil
	}
	delete(s.inFlight, w.Chunk.Index)
	s.done[w.Chunk.Index] = true
	for _, id := range w.Chunk.UserIDs {
		delete(s.versions, id) // a finished chunk's users are never read again
	}
	return nil
}

// RenewChunkLease moves the lease of a chunk in progress on, while holder
// holds it.
func (s *synthStore) RenewChunkLease(_ context.Context, _ string, index int, holder string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.inFlight[index]
	if !ok || c.Holder != holder {
		return rekey.ErrConflict
	}
	c.LeaseUntil = until
	s.inFlight[index] = c
	return nil
}

func (s *synthStore) GetUsers(_ context.Context, ids []string) (map[string]rekey.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]rekey.User{}
	for _, id := range ids {
		i, err := strconv.Atoi(id[1:])
		if err == nil && i < s.n {
			out[id] = s.user(i)
		}
	}
	return out, nil
}

func (s *synthStore) SetWaiting(context.Context, string, string, time.Time) error { return nil }

func (s *synthStore) AcquireDailySends(_ context.Context, _ string, want, _ int) (int, error) {
	return want, nil
}

// memQueue is a work or plan queue in memory. It keeps only what a message
// needs (not the user ids a chunk message may carry, which the store can
// give), so that its size says nothing about the pipeline's memory.
type memQueue struct {
	mu       sync.Mutex
	messages []bulk.Message
}

func (q *memQueue) Send(ctx context.Context, m any) error { return q.SendBatch(ctx, []any{m}) }

func (q *memQueue) SendBatch(_ context.Context, ms []any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range ms {
		msg := m.(bulk.Message)
		msg.UserIDs = nil
		q.messages = append(q.messages, msg)
	}
	return nil
}

func (q *memQueue) SendDelayed(ctx context.Context, m any, _ time.Duration) error {
	return q.SendBatch(ctx, []any{m})
}

// next takes the oldest message, if any.
func (q *memQueue) next() (bulk.Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.messages) == 0 {
		return bulk.Message{}, false
	}
	m := q.messages[0]
	q.messages = q.messages[1:]
	return m, true
}

// synthTask is the record of an email-link task over every student of s1.
func synthTask(del rekey.Delivery) rekey.TaskRecord {
	return rekey.TaskRecord{
		Task: rekey.Task{ID: "task1", Kind: rekey.TaskKindBulkReset, Status: rekey.TaskQueued, DistrictID: "d1",
			Selection: rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, Delivery: rekey.Delivery{Mode: del.Mode},
			CreatedBy: "da1", CreatedAt: time.Now()},
		CreatorRole: rekey.RoleDistrictAdmin, Policy: rekey.DefaultPasswordPolicy,
	}
}
