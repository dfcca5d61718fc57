package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rekey/rekey/shared/queue/batch"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
)

// WorkerStore is what the worker needs of the store.
type WorkerStore interface {
	Directory
	GetUser(ctx context.Context, id string) (rekey.User, error)
	GetUsers(ctx context.Context, ids []string) (map[string]rekey.User, error)
	// WriteUsers writes both sides of a guardian link at once.
	WriteUsers(ctx context.Context, w rekey.UsersWrite) error
	// WriteImportUsers writes many rows' users at once, each row whole or
	// not at all; a row's failed condition is its error in the slice.
	WriteImportUsers(ctx context.Context, writes []rekey.ImportWrite) ([]error, error)
	GetTask(ctx context.Context, id string) (rekey.TaskRecord, error)
	GetImport(ctx context.Context, id string) (rekey.ImportJob, error)
	GetImportChunk(ctx context.Context, id string, index int) (rekey.ImportChunk, error)
	FinishImportChunk(ctx context.Context, id string, index int, results []rekey.ImportRowResult, tally rekey.ImportTally, at time.Time) error
}

// Worker applies import chunks.
type Worker struct {
	store   WorkerStore
	files   Files
	log     *slog.Logger
	now     func() time.Time
	schools schoolCache
}

// schoolCacheFor is how long a worker re-plans an import's chunks with
// the school list it read for the import's first: every school the file
// names exists from the start on (Start creates them before any chunk),
// so the list need not be read per chunk. Reading it per chunk was a
// Query of the district's schools index each time, 200 of them for a
// 50,000-row file (and, on moto, a walk of the whole table each). A
// school an admin adds meanwhile is seen a minute later at most.
const schoolCacheFor = time.Minute

// schoolCache is the school list of the import a worker applied last
// (Lambda keeps a worker between invocations, so an import's chunks that
// land on the same instance share it).
type schoolCache struct {
	mu       sync.Mutex
	taskID   string
	district string
	read     time.Time
	list     []rekey.School
}

// get returns the district's schools for import taskID: the cached list
// when it is this import's and fresh, else the store's (then cached).
func (c *schoolCache) get(ctx context.Context, store Directory, taskID, districtID string, now time.Time) ([]rekey.School, error) {
	c.mu.Lock()
	if c.taskID == taskID && c.district == districtID && now.Sub(c.read) < schoolCacheFor && !now.Before(c.read) {
		list := slices.Clone(c.list)
		c.mu.Unlock()
		return list, nil
	}
	c.mu.Unlock()
	list, err := store.ListSchools(ctx, districtID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.taskID, c.district, c.read, c.list = taskID, districtID, now, slices.Clone(list)
	c.mu.Unlock()
	return list, nil
}

// jobDirectory is the worker's roster.Directory for one import: the
// store's, with the school list cached per import (schoolCache).
type jobDirectory struct {
	directory
	w      *Worker
	taskID string
}

func (d jobDirectory) Schools(ctx context.Context, districtID string) ([]rekey.School, error) {
	return d.w.schools.get(ctx, d.w.store, d.taskID, districtID, d.w.now())
}

// NewWorker returns a Worker; files may be nil (nothing to delete).
func NewWorker(store WorkerStore, files Files, logger *slog.Logger, now func() time.Time) *Worker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Worker{store: store, files: files, log: logger, now: now}
}

// Handle applies one chunk. It returns an error only for failures worth a
// retry (the message comes back); a chunk already done, or of a task that
// ended, is acknowledged without work.
func (w *Worker) Handle(ctx context.Context, m ChunkMessage) error {
	chunk, err := w.store.GetImportChunk(ctx, m.TaskID, m.Chunk)
	if errors.Is(err, rekey.ErrNotFound) {
		w.log.WarnContext(ctx, "imports: no such chunk", "task", m.TaskID, "chunk", m.Chunk)
		return nil
	}
	if err != nil {
		return fmt.Errorf("imports: chunk: %w", err)
	}
	if chunk.Done {
		return nil
	}
	rec, err := w.store.GetTask(ctx, m.TaskID)
	if err != nil {
		return fmt.Errorf("imports: task: %w", err)
	}
	if rec.Task.Status != rekey.TaskRunning && rec.Task.Status != rekey.TaskQueued {
		return nil
	}
	job, err := w.store.GetImport(ctx, m.TaskID)
	if err != nil {
		return fmt.Errorf("imports: job: %w", err)
	}
	var rows []roster.Row
	if err := json.Unmarshal(chunk.Rows, &rows); err != nil {
		return fmt.Errorf("imports: decode rows: %w", err)
	}
	var orgs []roster.Org
	if len(job.Orgs) > 0 {
		if err := json.Unmarshal(job.Orgs, &orgs); err != nil {
			return fmt.Errorf("imports: decode orgs: %w", err)
		}
	}
	results, err := w.apply(ctx, job, rows, orgs)
	if err != nil {
		return err
	}
	var tally rekey.ImportTally
	for _, r := range results {
		switch r.Outcome {
		case rekey.ImportCreated, rekey.ImportUpdated, rekey.ImportDisabled:
			tally.Succeeded++
		case rekey.ImportFailed:
			tally.Failed++
		default:
			tally.Skipped++
		}
	}
	err = w.store.FinishImportChunk(ctx, m.TaskID, m.Chunk, results, tally, w.now())
	if errors.Is(err, rekey.ErrConflict) {
		return nil // another delivery finished it first
	}
	if err != nil {
		return fmt.Errorf("imports: finish chunk: %w", err)
	}
	w.deleteWhenDone(ctx, job)
	return nil
}

// deleteWhenDone deletes the uploaded file once every row is processed.
func (w *Worker) deleteWhenDone(ctx context.Context, job rekey.ImportJob) {
	if job.SourceKey == "" || w.files == nil {
		return
	}
	rec, err := w.store.GetTask(ctx, job.TaskID)
	if err != nil || rec.Task.Processed < rec.Task.Total {
		return
	}
	if err := w.files.Delete(ctx, job.SourceKey); err != nil {
		w.log.WarnContext(ctx, "imports: delete uploaded file", "error", err)
	}
}

// apply plans the chunk's rows afresh (as the actor is now) and writes
// each change; it returns one result per row in file order.
func (w *Worker) apply(ctx context.Context, job rekey.ImportJob, rows []roster.Row, orgs []roster.Org) ([]rekey.ImportRowResult, error) {
	actor, err := w.store.GetUser(ctx, job.ActorID)
	if err != nil && !errors.Is(err, rekey.ErrNotFound) {
		return nil, fmt.Errorf("imports: actor: %w", err)
	}
	results := make([]rekey.ImportRowResult, 0, len(rows))
	plannable := make([]roster.Row, 0, len(rows))
	agents := make(map[int][]string, len(rows))
	for _, r := range rows {
		// Links were checked against the whole file when the import
		// started; a chunk alone may not hold the other side, so they
		// are written after the chunk's users (linkRow).
		agents[r.Row], r.AgentIDs = r.AgentIDs, nil
		plannable = append(plannable, r)
	}
	planned, err := w.plan(ctx, actor, job, plannable, orgs)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range planned {
		if p.outcome == "" && p.change.UserID != "" {
			ids = append(ids, p.change.UserID)
		}
	}
	stored, err := w.store.GetUsers(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("imports: read users: %w", err)
	}
	written, err := w.writeAll(ctx, actor, job, plannable, planned, stored)
	if err != nil {
		return nil, err
	}
	var reqs []linkRequest
	for _, r := range plannable {
		if res := written[r.Row]; res.outcome != rekey.ImportFailed && len(agents[r.Row]) > 0 {
			reqs = append(reqs, linkRequest{row: r.Row, userID: res.userID, agents: agents[r.Row]})
		}
	}
	linked, err := w.linkAll(ctx, actor, job, reqs)
	if err != nil {
		return nil, err
	}
	for _, r := range plannable {
		res := written[r.Row]
		if added := linked[r.Row]; len(added) > 0 {
			if res.outcome == rekey.ImportUnchanged {
				res.outcome = rekey.ImportUpdated
			}
			res.fields = append(res.fields, linkField(r.Role)+": + "+strings.Join(added, ", "))
		}
		results = append(results, rekey.ImportRowResult{File: r.File, Row: r.Row, Username: r.Username,
			Outcome: res.outcome, UserID: res.userID, Fields: res.fields, Error: res.err})
	}
	slices.SortStableFunc(results, func(a, b rekey.ImportRowResult) int { return a.Row - b.Row })
	return results, nil
}

// rowPlan is what planning said of one row: a change to write, or (with
// outcome set) a settled result.
type rowPlan struct {
	change  roster.Change
	outcome string
	userID  string
	fields  []string
	err     string
}

// plan re-plans rows against the store as it is now.
func (w *Worker) plan(ctx context.Context, actor rekey.User, job rekey.ImportJob, rows []roster.Row, orgs []roster.Org) (map[int]rowPlan, error) {
	out := make(map[int]rowPlan, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	f := &roster.File{Format: roster.Format(job.Format), Rows: rows, Orgs: orgs}
	res, err := roster.Plan(ctx, f, jobDirectory{directory: directory{w.store}, w: w, taskID: job.TaskID}, actor)
	if errors.Is(err, rekey.ErrForbidden) {
		for _, r := range rows {
			out[r.Row] = rowPlan{outcome: rekey.ImportFailed, err: "The person who started the import may no longer import users."}
		}
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("imports: plan chunk: %w", err)
	}
	for _, is := range res.Summary.Errors {
		p := out[is.Row]
		if p.err == "" {
			p.outcome, p.err = rekey.ImportFailed, is.Message
		}
		out[is.Row] = p
	}
	for _, c := range res.Changes {
		if _, failed := out[c.Row]; failed {
			continue
		}
		p := rowPlan{change: c, userID: c.UserID, fields: describe(c.Fields)}
		if c.Kind == roster.KindUnchanged {
			p.outcome, p.fields = rekey.ImportUnchanged, nil
			if c.UserID == rowUserID(job.TaskID, c.File, c.Row) {
				p.outcome = rekey.ImportCreated // by an earlier attempt at this chunk
			}
		}
		out[c.Row] = p
	}
	return out, nil
}

// writeAll writes the chunk's planned changes in the store's batches
// (WriteImportUsers: some 20 rows a transaction) and settles each row;
// rows whose write failed a condition are settled one by one (settle).
func (w *Worker) writeAll(ctx context.Context, actor rekey.User, job rekey.ImportJob, rows []roster.Row, planned map[int]rowPlan, stored map[string]rekey.User) (map[int]rowPlan, error) {
	out := make(map[int]rowPlan, len(rows))
	failed := map[int]error{}
	var writes []rekey.ImportWrite
	var owners []roster.Row
	for _, r := range rows {
		p := planned[r.Row]
		out[r.Row] = p
		if p.outcome != "" {
			continue
		}
		wr, err := w.importWrite(actor, job, p.change, stored)
		if err != nil {
			failed[r.Row] = err
			continue
		}
		writes, owners = append(writes, wr), append(owners, r)
	}
	if len(writes) > 0 {
		errs, err := w.store.WriteImportUsers(ctx, writes)
		if err != nil {
			return nil, fmt.Errorf("imports: write users: %w", err)
		}
		for i, r := range owners {
			if errs[i] != nil {
				failed[r.Row] = errs[i]
				continue
			}
			p, err := w.settle(ctx, actor, job, r, out[r.Row], nil)
			if err != nil {
				return nil, err
			}
			out[r.Row] = p
		}
	}
	for _, r := range rows {
		if err, ok := failed[r.Row]; ok {
			p, err := w.settle(ctx, actor, job, r, out[r.Row], err)
			if err != nil {
				return nil, err
			}
			out[r.Row] = p
		}
	}
	return out, nil
}

// settle gives a planned change its result after a write that returned
// err (nil: written). A conflict (the user changed, or a racing attempt
// wrote it) re-plans the row and writes it once more on its own. A failure
// of the store itself ends the chunk with an error, so that its message
// comes back and the chunk is retried (rows already written are then
// unchanged).
func (w *Worker) settle(ctx context.Context, actor rekey.User, job rekey.ImportJob, r roster.Row, p rowPlan, err error) (rowPlan, error) {
	for attempt := 0; ; attempt++ {
		if err == nil {
			switch p.change.Kind {
			case roster.KindCreate:
				p.outcome, p.userID = rekey.ImportCreated, rowUserID(job.TaskID, r.File, r.Row)
			case roster.KindDisable:
				p.outcome = rekey.ImportDisabled
			default:
				p.outcome = rekey.ImportUpdated
			}
			return p, nil
		}
		code := rekey.ErrorCode(err)
		if code == rekey.ECodeInternal {
			return p, fmt.Errorf("imports: row %d: %w", r.Row, err)
		}
		retry := code == rekey.ECodeVersionConflict || code == rekey.ECodeConflict || code == rekey.ECodeUsernameTaken ||
			code == rekey.ECodeEmailTaken || code == rekey.ECodeExternalIDTaken
		if !retry || attempt > 0 {
			w.log.WarnContext(ctx, "imports: row failed", "task", job.TaskID, "row", r.Row, "error", err)
			return rowPlan{outcome: rekey.ImportFailed, userID: p.change.UserID, err: rekey.ErrorMessage(err)}, nil
		}
		again, err2 := w.plan(ctx, actor, job, []roster.Row{r}, orgsOf(job))
		if err2 != nil {
			return p, err2
		}
		next := again[r.Row]
		if next.outcome != "" {
			return next, nil
		}
		p = next
		err = w.writeOne(ctx, actor, job, p.change)
	}
}

// writeOne writes one change on its own, reading its user first.
func (w *Worker) writeOne(ctx context.Context, actor rekey.User, job rekey.ImportJob, c roster.Change) error {
	var stored map[string]rekey.User
	if c.Kind != roster.KindCreate {
		var err error
		if stored, err = w.store.GetUsers(ctx, []string{c.UserID}); err != nil {
			return err
		}
	}
	wr, err := w.importWrite(actor, job, c, stored)
	if err != nil {
		return err
	}
	errs, err := w.store.WriteImportUsers(ctx, []rekey.ImportWrite{wr})
	if err != nil {
		return err
	}
	return errs[0]
}

// importWrite is the store's write of one create or update with its
// audit entry; stored holds the users the chunk updates as read before.
// A user no longer at the planned version is rekey.ErrVersionConflict.
func (w *Worker) importWrite(actor rekey.User, job rekey.ImportJob, c roster.Change, stored map[string]rekey.User) (rekey.ImportWrite, error) {
	now := w.now()
	entry := rekey.AuditEntry{
		ID: rekey.NewID(), At: now, DistrictID: job.DistrictID, ActorID: actor.ID, ActorName: actor.FullName(),
		Outcome: rekey.OutcomeSuccess, Detail: "import " + job.TaskID, RequestID: job.TaskID,
	}
	if c.Kind == roster.KindCreate {
		u := c.Apply(rekey.User{DistrictID: job.DistrictID})
		u.ID = rowUserID(job.TaskID, c.File, c.Row)
		u.Version, u.SessionGen, u.CreatedAt, u.UpdatedAt = 1, 1, now, now
		if u.Status == "" {
			u.Status = rekey.StatusActive
		}
		entry.TargetID, entry.Action, entry.After = u.ID, rekey.ActionUserCreate, u.AuditView()
		return rekey.ImportWrite{After: u, Audit: entry}, nil
	}
	before, ok := stored[c.UserID]
	if !ok || before.Version != c.Version {
		return rekey.ImportWrite{}, rekey.ErrVersionConflict
	}
	after := c.Apply(before)
	if after.Email != before.Email || after.Status == rekey.StatusDisabled && before.Status != rekey.StatusDisabled {
		after.ResetTokenHash, after.SelfResetTokenHash = "", ""
	}
	if after.Status == rekey.StatusDisabled && before.Status != rekey.StatusDisabled {
		after.SessionGen = before.SessionGen + 1
	}
	after.Version, after.UpdatedAt = before.Version+1, now
	entry.TargetID, entry.Action = before.ID, auditAction(before, after)
	entry.Before, entry.After = map[string]any{}, map[string]any{}
	for _, f := range c.Fields {
		entry.Before[f.Field], entry.After[f.Field] = f.Before, f.After
	}
	return rekey.ImportWrite{Before: before, After: after, Audit: entry}, nil
}

// orgsOf decodes the job's orgs (nil when there are none or they do not
// decode; the chunk's plan already decoded them once).
func orgsOf(job rekey.ImportJob) []roster.Org {
	var orgs []roster.Org
	_ = json.Unmarshal(job.Orgs, &orgs)
	return orgs
}

// auditAction names an import's update as users.Update names an edit.
func auditAction(before, after rekey.User) string {
	switch {
	case before.Role != after.Role:
		return rekey.ActionUserRoleChange
	case before.SchoolID != after.SchoolID:
		return rekey.ActionUserMove
	}
	return rekey.ActionUserUpdate
}

// describe renders field changes for the results: "email: a → b".
func describe(fields []roster.FieldChange) []string {
	var out []string
	for _, f := range fields {
		out = append(out, fmt.Sprintf("%s: %s → %s", f.Field, f.Before, f.After))
	}
	return out
}

// HandleSQS is the Lambda handler of the import work queue: each message
// is one chunk; a failed chunk is reported so that only it comes back.
func (w *Worker) HandleSQS(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
	return batch.Handle(ctx, event, batch.Options{Name: "import worker", Logger: w.log}, func(ctx context.Context, m events.SQSMessage) error {
		var msg ChunkMessage
		if err := json.Unmarshal([]byte(m.Body), &msg); err != nil || !rekey.ValidID(msg.TaskID) || msg.Chunk < 0 {
			return batch.Drop(fmt.Errorf("imports: malformed message: %v", err))
		}
		return w.Handle(ctx, msg)
	}), nil
}
