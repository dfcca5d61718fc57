package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
	CreateUser(ctx context.Context, u rekey.User, audit *rekey.AuditEntry) error
	UpdateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error
	GetTask(ctx context.Context, id string) (rekey.TaskRecord, error)
	GetImport(ctx context.Context, id string) (rekey.ImportJob, error)
	GetImportChunk(ctx context.Context, id string, index int) (rekey.ImportChunk, error)
	FinishImportChunk(ctx context.Context, id string, index int, results []rekey.ImportRowResult, tally rekey.ImportTally, at time.Time) error
}

// Worker applies import chunks.
type Worker struct {
	store WorkerStore
	files Files
	log   *slog.Logger
	now   func() time.Time
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
	for _, r := range plannable {
		res := planned[r.Row]
		if res.outcome == "" {
			if res, err = w.write(ctx, actor, job, r, res, stored); err != nil {
				return nil, err
			}
		}
		if res.outcome != rekey.ImportFailed {
			added, err := w.linkRow(ctx, actor, job, res.userID, agents[r.Row])
			if err != nil {
				return nil, err
			}
			if len(added) > 0 {
				if res.outcome == rekey.ImportUnchanged {
					res.outcome = rekey.ImportUpdated
				}
				res.fields = append(res.fields, linkField(r.Role)+": + "+strings.Join(added, ", "))
			}
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
	res, err := roster.Plan(ctx, f, directory{w.store}, actor)
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

// write applies one planned change; a conflict (the user changed, or a
// racing attempt wrote it) re-plans the row once. A failure of the store
// itself ends the chunk with an error, so that its message comes back and
// the chunk is retried (rows already written are then unchanged).
func (w *Worker) write(ctx context.Context, actor rekey.User, job rekey.ImportJob, r roster.Row, p rowPlan, stored map[string]rekey.User) (rowPlan, error) {
	for attempt := 0; ; attempt++ {
		err := w.writeChange(ctx, actor, job, p.change, stored)
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
		again, err := w.plan(ctx, actor, job, []roster.Row{r}, orgsOf(job))
		if err != nil {
			return p, err
		}
		next := again[r.Row]
		if next.outcome != "" {
			return next, nil
		}
		p = next
		stored = nil // read the user again
	}
}

// writeChange writes one create or update with its audit entry; stored
// holds the users the chunk updates as read before (nil: read now).
func (w *Worker) writeChange(ctx context.Context, actor rekey.User, job rekey.ImportJob, c roster.Change, stored map[string]rekey.User) error {
	now := w.now()
	entry := &rekey.AuditEntry{
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
		return w.store.CreateUser(ctx, u, entry)
	}
	before, ok := stored[c.UserID]
	if stored == nil {
		users, err := w.store.GetUsers(ctx, []string{c.UserID})
		if err != nil {
			return err
		}
		before, ok = users[c.UserID]
	}
	if !ok || before.Version != c.Version {
		return rekey.ErrVersionConflict
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
	return w.store.UpdateUser(ctx, before, after, entry)
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
