package bulk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/queue/batch"
	"github.com/rekey/rekey/shared/rekey"
)

// PlannerDeps are the Planner's collaborators.
type PlannerDeps struct {
	Store planStore
	// Work is the work queue.
	Work Queue
	// Plans is the plan queue, for the rest of a plan that ran out of time.
	Plans Queue
	// Notices is the mail queue, for the email that tells a task's creator
	// the planner failed their task (finish.go); nil sends none.
	Notices NoticeQueue
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
	// Now may be nil: time.Now.
	Now func() time.Time
}

// Planner expands tasks into chunks: the plan queue's consumer.
type Planner struct {
	store   planStore
	work    Queue
	plans   Queue
	notices NoticeQueue
	log     *slog.Logger
	now     func() time.Time
	// pageSize is how many users one page of the selection reads: ten
	// chunks, one SendMessageBatch.
	pageSize int
	// stopMargin is how long before its deadline the planner stops and
	// queues the rest of its plan.
	stopMargin time.Duration
	// results reads a follow-up's parent results: the Store, when it can
	// (nil: follow-ups fail).
	results parentResultReader
}

// parentResultReader reads the results of a follow-up's parent task: its
// chunks (ListChunks: up to n from index from on, in order), what SES
// reported of their emails and the users' records (whether each
// completed), as the results listing reads them. *dynamo.Store and the
// memory store are one.
type parentResultReader interface {
	ListChunks(ctx context.Context, taskID string, from, n int) ([]rekey.Chunk, error)
	rowUserReader
	mailStateReader
}

// planPageSize is how many users one page of a selection reads: ten
// chunks, one SendMessageBatch.
const planPageSize = 10 * rekey.ChunkSize

// NewPlanner returns a Planner.
func NewPlanner(cfg Config, deps PlannerDeps) (*Planner, error) {
	if deps.Store == nil || deps.Work == nil || deps.Plans == nil {
		return nil, errors.New("bulk: the planner needs a Store, the work queue and the plan queue")
	}
	cfg = cfg.withDefaults()
	p := &Planner{store: deps.Store, work: deps.Work, plans: deps.Plans, notices: deps.Notices, log: deps.Logger, now: deps.Now,
		pageSize: planPageSize, stopMargin: cfg.StopMargin}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.results, _ = deps.Store.(parentResultReader)
	return p, nil
}

// Handle processes a batch from the plan queue and reports the messages
// that failed, so that SQS retries only those (SECURITY.md 15).
func (p *Planner) Handle(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
	return batch.Handle(ctx, event, batch.Options{Name: "bulk planner", Logger: p.log}, p.handleMessage), nil
}

// handleMessage plans the task of one plan message. A malformed message
// never gets better: it is dropped, loudly.
func (p *Planner) handleMessage(ctx context.Context, m events.SQSMessage) error {
	msg, err := decodeMessage(m.Body, KindPlan)
	if err != nil {
		return batch.Drop(err)
	}
	if err := p.Plan(ctx, msg.TaskID); err != nil {
		return fmt.Errorf("plan task %s: %w", msg.TaskID, err)
	}
	return nil
}

// Plan expands task taskID from where its plan stands: it reloads the
// creator (a creator who may no longer list users fails the task), reads
// the selection page by page inside the creator's current scope, and for
// each page writes its chunks and moves the plan on in one conditional
// write, then queues one message per chunk. Run again — after a crash, or
// by a duplicate message — it resumes after the last page written and
// re-sends only the messages that may not have gone out; a second planner
// racing it loses the conditional write and stops.
func (p *Planner) Plan(ctx context.Context, taskID string) error {
	rec, err := p.store.GetTask(ctx, taskID)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		p.log.WarnContext(ctx, "bulk: plan message for an unknown task", "task", taskID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read task: %w", err)
	}
	if rec.Task.Status == rekey.TaskFailed {
		// Failed by a planner before this one, whose email to the creator
		// may not have been queued: tell them (once; the claim decides).
		return p.tellFailed(ctx, rec)
	}
	if rec.Task.Status.Finished() || rec.Task.Status == rekey.TaskAwaitingApproval {
		// A task awaiting approval is planned once approved, by the plan
		// message the approval sends.
		return nil
	}
	plan := rec.Plan
	if plan.Enqueued < plan.Chunks {
		// A planner before this one may have died between writing chunks
		// and queuing them: queue them (again; duplicates are harmless).
		if err := p.enqueue(ctx, rec, plan.Enqueued, plan.Chunks, nil); err != nil {
			return err
		}
		if err := p.store.MarkEnqueued(ctx, rec.Task.ID, plan.Chunks); err != nil {
			return fmt.Errorf("record queued chunks: %w", err)
		}
		plan.Enqueued = plan.Chunks
	}
	if plan.Done {
		return nil
	}

	initiator, err := p.store.GetUser(ctx, rec.Task.CreatedBy)
	if err != nil && rekey.ErrorCode(err) != rekey.ECodeNotFound {
		return fmt.Errorf("read task creator: %w", err)
	}
	scope, ok := authz.ListScope(initiator)
	if !ok {
		return p.fail(ctx, rec, "the task's creator may no longer reset users")
	}
	pages, err := p.selection(rec, initiator, scope)
	if err != nil {
		return p.fail(ctx, rec, err.Error())
	}

	// Each page's SavePlanPage also records that the chunks of the pages
	// before it are on the work queue (to.Enqueued): only the last page's,
	// or those of a planner out of time, take a MarkEnqueued of their own.
	// A planner that stops between queuing a page and recording it queues
	// those chunks again when the plan resumes; a worker drops a message
	// of a chunk that is done and puts back one that another worker holds.
	marked := plan.Enqueued // as the task records it
	deadline, hasDeadline := ctx.Deadline()
	for !plan.Done {
		if hasDeadline && time.Until(deadline) < p.stopMargin {
			// Out of time: the rest of the plan goes back on the queue.
			if err := p.markEnqueued(ctx, rec.Task.ID, marked, plan.Enqueued); err != nil {
				return err
			}
			return p.plans.Send(ctx, Message{Kind: KindPlan, TaskID: rec.Task.ID, InitiatorID: rec.Task.CreatedBy})
		}
		ids, next, err := pages(ctx, plan.Cursor)
		if err != nil {
			return err
		}
		chunks := make([]rekey.Chunk, 0, len(ids)/rekey.ChunkSize+1)
		for start := 0; start < len(ids); start += rekey.ChunkSize {
			chunks = append(chunks, rekey.Chunk{TaskID: rec.Task.ID, Index: plan.Chunks + len(chunks), UserIDs: ids[start:min(start+rekey.ChunkSize, len(ids))]})
		}
		to := rekey.TaskPlan{Cursor: next, Chunks: plan.Chunks + len(chunks), Enqueued: plan.Enqueued, Done: next == ""}
		err = p.store.SavePlanPage(ctx, rec.Task.ID, plan, to, chunks, len(ids), p.now())
		if errors.Is(err, rekey.ErrConflict) {
			p.log.InfoContext(ctx, "bulk: another planner is ahead; stopping", "task", rec.Task.ID)
			return nil
		}
		if err != nil {
			return fmt.Errorf("save plan page: %w", err)
		}
		marked = to.Enqueued
		if err := p.enqueue(ctx, rec, plan.Chunks, to.Chunks, chunks); err != nil {
			return err
		}
		plan = to
		plan.Enqueued = plan.Chunks
	}
	if err := p.markEnqueued(ctx, rec.Task.ID, marked, plan.Enqueued); err != nil {
		return err
	}
	p.log.InfoContext(ctx, "bulk: task planned", "task", rec.Task.ID, "chunks", plan.Chunks)
	return nil
}

// markEnqueued records that the first n chunks of task id are on the work
// queue, unless the task already records that many (marked).
func (p *Planner) markEnqueued(ctx context.Context, id string, marked, n int) error {
	if n <= marked {
		return nil
	}
	if err := p.store.MarkEnqueued(ctx, id, n); err != nil {
		return fmt.Errorf("record queued chunks: %w", err)
	}
	return nil
}

// enqueue puts the messages of chunks [from, to) of rec on the work queue.
// chunks, when given, are those chunks: their messages then carry the user
// ids, which saves the worker a read.
func (p *Planner) enqueue(ctx context.Context, rec rekey.TaskRecord, from, to int, chunks []rekey.Chunk) error {
	if from >= to {
		return nil
	}
	messages := make([]any, 0, to-from)
	for i := from; i < to; i++ {
		m := Message{Kind: KindChunk, TaskID: rec.Task.ID, InitiatorID: rec.Task.CreatedBy, Chunk: i, Delivery: rec.Task.Delivery.Mode}
		if j := i - from; j < len(chunks) && chunks[j].Index == i {
			m.UserIDs = chunks[j].UserIDs
		}
		messages = append(messages, m)
	}
	if err := p.work.SendBatch(ctx, messages); err != nil {
		return fmt.Errorf("queue chunks %d to %d: %w", from, to-1, err)
	}
	return nil
}

// fail ends a task that cannot be planned and emails its creator that it
// failed, as the worker emails a task's end (tellFinished): once, claimed
// on the task item. When the email cannot be queued the error is
// returned, so that the plan message comes back and Plan, finding the
// task failed, tries again.
func (p *Planner) fail(ctx context.Context, rec rekey.TaskRecord, reason string) error {
	p.log.WarnContext(ctx, "bulk: task failed", "task", rec.Task.ID, "reason", reason)
	if err := p.store.FailTask(ctx, rec.Task.ID, reason, p.now()); err != nil {
		return fmt.Errorf("record failed task: %w", err)
	}
	// Read it back: FailTask leaves a task that ended meanwhile (cancelled)
	// as it is, and that one is not emailed.
	rec, err := p.store.GetTask(ctx, rec.Task.ID)
	if err != nil {
		return fmt.Errorf("read the failed task: %w", err)
	}
	return p.tellFailed(ctx, rec)
}

// tellFailed emails the creator of rec, which the planner failed, that it
// failed (tellFinished decides whether, and claims it once).
func (p *Planner) tellFailed(ctx context.Context, rec rekey.TaskRecord) error {
	creator, err := p.store.GetUser(ctx, rec.Task.CreatedBy)
	if err != nil && rekey.ErrorCode(err) != rekey.ECodeNotFound {
		return fmt.Errorf("read task creator: %w", err)
	}
	if err := tellFinished(ctx, p.store, p.notices, p.log, p.now(), rec, creator); err != nil {
		return fmt.Errorf("tell the creator the task failed: %w", err)
	}
	return nil
}

// pageReader reads the page of user ids after cursor and returns the
// cursor after it ("" after the last page).
type pageReader func(ctx context.Context, cursor string) (ids []string, next string, err error)

// selection returns the pages of user ids that rec's selection reaches
// inside scope. A follow-up's are its parent's results (followUpPages).
// For selected users the ids are the task's own, in pages of
// the page size, and each is authorised when reached; otherwise the store
// is read inside the scope, narrowed by school, role and grade, and only
// users the creator may reset now are kept (their own account and roles
// they cannot reset are left out; disabled users stay, to be reported as
// skipped).
func (p *Planner) selection(rec rekey.TaskRecord, initiator rekey.User, scope authz.Scope) (pageReader, error) {
	sel := rec.Task.Selection
	if sel.Mode == rekey.SelectFollowUp {
		return p.followUpPages(sel.FollowUp, initiator)
	}
	if sel.Mode == rekey.SelectSelected {
		ids := sel.UserIDs
		return func(_ context.Context, cursor string) ([]string, string, error) {
			start := 0
			if cursor != "" {
				n, err := strconv.Atoi(cursor)
				if err != nil || n < 0 || n > len(ids) {
					return nil, "", fmt.Errorf("bad plan cursor %q", cursor)
				}
				start = n
			}
			end := min(start+p.pageSize, len(ids))
			next := ""
			if end < len(ids) {
				next = strconv.Itoa(end)
			}
			return ids[start:end], next, nil
		}, nil
	}

	filter, ok := selectionFilter(sel, scope)
	if !ok {
		// Nothing of the selection is inside the scope.
		return func(context.Context, string) ([]string, string, error) { return nil, "", nil }, nil
	}
	excluded := map[string]bool{}
	if sel.Mode == rekey.SelectAllExcept {
		for _, id := range sel.UserIDs {
			excluded[id] = true
		}
	}
	return func(ctx context.Context, cursor string) ([]string, string, error) {
		users, next, err := p.store.SelectUsers(ctx, filter, cursor, p.pageSize)
		if err != nil {
			return nil, "", fmt.Errorf("read selection: %w", err)
		}
		ids := make([]string, 0, len(users))
		for _, u := range users {
			if excluded[u.ID] || !scope.Contains(u) || !resettable(initiator, u) {
				continue
			}
			ids = append(ids, u.ID)
		}
		return ids, next, nil
	}, nil
}

// selectionFilter is the store filter of a selection by filters (all,
// all_except, without_role) inside scope; ok is false when nothing of the
// selection is inside the scope. The planner and the preview share it, so
// that a preview counts what a task plans.
func selectionFilter(sel rekey.Selection, scope authz.Scope) (rekey.UserFilter, bool) {
	filter := rekey.UserFilter{SchoolID: sel.SchoolID, Role: sel.Role, Grade: sel.Grade}
	if sel.Mode == rekey.SelectWithoutRole {
		filter.Role = rekey.RoleStudent
	}
	return scope.Restrict(filter)
}

// resettable reports whether initiator may reset u, ignoring u's status
// (disabled users are planned and reported as skipped).
func resettable(initiator, u rekey.User) bool {
	u.Status = rekey.StatusActive
	return authz.Allowed(initiator, u, authz.ActionReset)
}

// followUpPages returns the pages of a follow-up's users: the results of
// its parent task that its action picks (pick), as they stand now, read
// a page of the parent's chunks at a time (planPageSize users at most, so
// that a page makes at most ten chunks) — never the whole parent at once.
// Each result's state is worked out as the results listing works it out
// (ResultState: what SES reported, whether the user completed since). As
// for selected users, the ids are passed on and each user is authorised
// when reached, by the worker, as the creator is now (refused users end
// skipped, with an entry in their activity); the creator is never part
// of their own reset. The cursor is the index of the parent's next chunk.
func (p *Planner) followUpPages(f *rekey.FollowUpOf, initiator rekey.User) (pageReader, error) {
	if f == nil || p.results == nil {
		return nil, errors.New("the follow-up's parent task cannot be read")
	}
	perPage := max(p.pageSize/rekey.ChunkSize, 1)
	resetID := taskResetID(f.TaskID)
	return func(ctx context.Context, cursor string) ([]string, string, error) {
		from := 0
		if cursor != "" {
			n, err := strconv.Atoi(cursor)
			if err != nil || n < 0 {
				return nil, "", fmt.Errorf("bad plan cursor %q", cursor)
			}
			from = n
		}
		chunks, err := p.results.ListChunks(ctx, f.TaskID, from, perPage)
		if err != nil {
			return nil, "", fmt.Errorf("read the parent task's results: %w", err)
		}
		if err := mergeMailStates(ctx, p.results, chunks); err != nil {
			return nil, "", err
		}
		var reached []string
		for _, c := range chunks {
			for _, e := range c.Entries {
				if e.Result.Outcome == rekey.OutcomeEmailed || e.Result.Outcome == rekey.OutcomePasswordSet {
					reached = append(reached, e.Result.UserID)
				}
			}
		}
		users := map[string]rekey.User{}
		if len(reached) > 0 {
			if users, err = p.results.GetUsers(ctx, reached); err != nil {
				return nil, "", fmt.Errorf("read the parent task's users: %w", err)
			}
		}
		now := p.now()
		var ids []string
		for _, c := range chunks {
			for _, e := range c.Entries {
				if !e.Final() || e.Result.UserID == initiator.ID {
					continue
				}
				u, known := users[e.Result.UserID]
				if pick(f.Action, ResultState(e, u, known, resetID, now)) == pickYes {
					ids = append(ids, e.Result.UserID)
				}
			}
		}
		next := ""
		if len(chunks) == perPage {
			next = strconv.Itoa(chunks[len(chunks)-1].Index + 1)
		}
		return ids, next, nil
	}, nil
}
