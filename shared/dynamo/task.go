package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// Keys of bulk tasks and the items around them (docs/data-model.md).
const (
	taskPrefix        = "TASK#"
	taskSK            = "TASK"
	taskKeySK         = "KEY"
	chunkPrefix       = "CHUNK#"
	taskDistrictGSI   = "TASKS#" // GSI1: tasks of a district, newest first
	allTasksGSI       = "TASKS"  // GSI2: every task, newest first (support)
	idempotencyPrefix = "IDEMPOTENCY#"
	idempotencySK     = "IDEMPOTENCY"
)

func taskPK(id string) string { return taskPrefix + id }

// taskItem is a bulk task (TASK#<id> / TASK): the task centre's view, its
// plan and its counters, which chunks ADD to.
type taskItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK string `dynamodbav:"GSI2PK"`
	GSI2SK string `dynamodbav:"GSI2SK"`

	ID                string            `dynamodbav:"id"`
	Kind              string            `dynamodbav:"kind"`
	Name              string            `dynamodbav:"name,omitempty"`
	ParentTaskID      string            `dynamodbav:"parentTaskId,omitempty"`
	Status            string            `dynamodbav:"status"`
	DistrictID        string            `dynamodbav:"districtId,omitempty"`
	Selection         taskSelectionItem `dynamodbav:"selection"`
	DeliveryMode      string            `dynamodbav:"deliveryMode"`
	ScheduleID        string            `dynamodbav:"scheduleId,omitempty"`
	Total             int               `dynamodbav:"total"`
	Processed         int               `dynamodbav:"processed"`
	Succeeded         int               `dynamodbav:"succeeded"`
	Emailed           int               `dynamodbav:"emailed"`
	NoEmail           int               `dynamodbav:"noEmail"`
	Notified          int               `dynamodbav:"notified"`
	Failed            int               `dynamodbav:"failed"`
	Skipped           int               `dynamodbav:"skipped"`
	CreatedBy         string            `dynamodbav:"createdBy"`
	CreatedAt         storedTime        `dynamodbav:"createdAt,omitempty"`
	FinishedAt        storedTime        `dynamodbav:"finishedAt,omitempty"`
	ApprovedBy        string            `dynamodbav:"approvedBy,omitempty"`
	DecidedAt         storedTime        `dynamodbav:"decidedAt,omitempty"`
	Waiting           string            `dynamodbav:"waiting,omitempty"`
	EstimatedFinishAt storedTime        `dynamodbav:"estimatedFinishAt,omitempty"`

	CreatorRole     string     `dynamodbav:"creatorRole"`
	CreatorSchoolID string     `dynamodbav:"creatorSchoolId,omitempty"`
	Policy          policyItem `dynamodbav:"policy"`
	RequestID       string     `dynamodbav:"requestId,omitempty"`
	Reason          string     `dynamodbav:"reason,omitempty"`
	StartedAt       storedTime `dynamodbav:"startedAt,omitempty"`
	LastProcessedAt storedTime `dynamodbav:"lastProcessedAt,omitempty"`
	PlanCursor      string     `dynamodbav:"planCursor"`
	PlanChunks      int        `dynamodbav:"planChunks"`
	PlanEnqueued    int        `dynamodbav:"planEnqueued"`
	PlanDone        bool       `dynamodbav:"planDone"`
	FinishNoticeAt  storedTime `dynamodbav:"finishNoticeAt,omitempty"`
	TTL             int64      `dynamodbav:"ttl"`

	// KidFriendlyMaxGrade is absent on tasks recorded before it was.
	KidFriendlyMaxGrade *int `dynamodbav:"kidFriendlyMaxGrade,omitempty"`

	// Funnel is the funnel last worked out, at FunnelAt (SaveFunnel);
	// absent until a task is first read.
	Funnel   *funnelItem `dynamodbav:"funnel,omitempty"`
	FunnelAt storedTime  `dynamodbav:"funnelAt,omitempty"`

	// ImportCounts is an import task's plan (rekey.Task.ImportCounts).
	ImportCounts *importCountsItem `dynamodbav:"importCounts,omitempty"`
}

// funnelItem is a task's remembered funnel as stored.
type funnelItem struct {
	Sent       int `dynamodbav:"sent"`
	Delivered  int `dynamodbav:"delivered"`
	Bounced    int `dynamodbav:"bounced"`
	Complained int `dynamodbav:"complained"`
	Completed  int `dynamodbav:"completed"`
	Expired    int `dynamodbav:"expired"`
}

// importCountsItem is rekey.ImportCounts as the task item stores it.
type importCountsItem struct {
	Create        int `dynamodbav:"create"`
	Update        int `dynamodbav:"update"`
	Unchanged     int `dynamodbav:"unchanged"`
	Disable       int `dynamodbav:"disable"`
	SchoolsCreate int `dynamodbav:"schoolsCreate"`
}

func newImportCountsItem(c *rekey.ImportCounts) *importCountsItem {
	if c == nil {
		return nil
	}
	return &importCountsItem{c.Create, c.Update, c.Unchanged, c.Disable, c.SchoolsCreate}
}

func (it *importCountsItem) counts() *rekey.ImportCounts {
	if it == nil {
		return nil
	}
	return &rekey.ImportCounts{Create: it.Create, Update: it.Update, Unchanged: it.Unchanged, Disable: it.Disable, SchoolsCreate: it.SchoolsCreate}
}

func newFunnelItem(f *rekey.Funnel) *funnelItem {
	if f == nil {
		return nil
	}
	return &funnelItem{f.Sent, f.Delivered, f.Bounced, f.Complained, f.Completed, f.Expired}
}

func (it *funnelItem) funnel() *rekey.Funnel {
	if it == nil {
		return nil
	}
	return &rekey.Funnel{Sent: it.Sent, Delivered: it.Delivered, Bounced: it.Bounced, Complained: it.Complained, Completed: it.Completed, Expired: it.Expired}
}

// taskSelectionItem is a task's selection as stored.
type taskSelectionItem struct {
	Mode     string   `dynamodbav:"mode"`
	UserIDs  []string `dynamodbav:"userIds,omitempty"`
	SchoolID string   `dynamodbav:"schoolId,omitempty"`
	Role     string   `dynamodbav:"role,omitempty"`
	Grade    string   `dynamodbav:"grade,omitempty"`
	// FollowUp* are a follow-up's parent task, action and count
	// (rekey.SelectFollowUp).
	FollowUpTask   string `dynamodbav:"followUpTask,omitempty"`
	FollowUpAction string `dynamodbav:"followUpAction,omitempty"`
	FollowUpCount  int    `dynamodbav:"followUpCount,omitempty"`
}

func newTaskSelectionItem(sel rekey.Selection) taskSelectionItem {
	it := taskSelectionItem{Mode: string(sel.Mode), UserIDs: sel.UserIDs, SchoolID: sel.SchoolID, Role: string(sel.Role), Grade: sel.Grade}
	if f := sel.FollowUp; f != nil {
		it.FollowUpTask, it.FollowUpAction, it.FollowUpCount = f.TaskID, f.Action, f.Count
	}
	return it
}

func (it taskSelectionItem) selection() rekey.Selection {
	sel := rekey.Selection{Mode: rekey.SelectionMode(it.Mode), UserIDs: it.UserIDs, SchoolID: it.SchoolID, Role: rekey.Role(it.Role), Grade: it.Grade}
	if it.FollowUpTask != "" {
		sel.FollowUp = &rekey.FollowUpOf{TaskID: it.FollowUpTask, Action: it.FollowUpAction, Count: it.FollowUpCount}
	}
	return sel
}

// taskSortKey orders task listings by creation, newest last in the index
// (listings read it backwards).
func taskSortKey(t rekey.Task) string { return formatTime(t.CreatedAt) + "#" + t.ID }

func newTaskItem(rec rekey.TaskRecord) taskItem {
	t := rec.Task
	it := taskItem{
		PK: taskPK(t.ID), SK: taskSK,
		GSI2PK: allTasksGSI, GSI2SK: taskSortKey(t),
		ID: t.ID, Kind: t.Kind, Name: t.Name, ParentTaskID: t.ParentTaskID, Status: string(t.Status), DistrictID: t.DistrictID,
		Selection:    newTaskSelectionItem(t.Selection),
		DeliveryMode: string(t.Delivery.Mode), ScheduleID: t.ScheduleID,
		Total: t.Total, Processed: t.Processed, Succeeded: t.Succeeded, Emailed: t.Emailed,
		NoEmail: t.NoEmail, Notified: t.Notified, Failed: t.Failed, Skipped: t.Skipped,
		CreatedBy: t.CreatedBy, CreatedAt: storedTime{t.CreatedAt}, FinishedAt: storedTime{t.FinishedAt},
		ApprovedBy: t.ApprovedBy, DecidedAt: storedTime{t.DecidedAt},
		Waiting: t.Waiting, EstimatedFinishAt: storedTime{t.EstimatedFinishAt},
		CreatorRole: string(rec.CreatorRole), CreatorSchoolID: rec.CreatorSchoolID,
		Policy:    policyItem{rec.Policy.MinLengthStaff, rec.Policy.MinLengthStudent, rec.Policy.MaxLength},
		RequestID: rec.RequestID, Reason: rec.Reason,
		StartedAt: storedTime{rec.StartedAt}, LastProcessedAt: storedTime{rec.LastProcessedAt},
		PlanCursor: rec.Plan.Cursor, PlanChunks: rec.Plan.Chunks, PlanEnqueued: rec.Plan.Enqueued, PlanDone: rec.Plan.Done,
		FinishNoticeAt: storedTime{rec.FinishNoticeAt},
		TTL:            ttlAfter(t.CreatedAt.Add(rekey.ResultRetention)),
	}
	it.KidFriendlyMaxGrade = rec.KidFriendlyMaxGrade
	it.Funnel, it.FunnelAt = newFunnelItem(rec.Funnel), storedTime{rec.FunnelAt}
	it.ImportCounts = newImportCountsItem(t.ImportCounts)
	if t.DistrictID != "" {
		it.GSI1PK, it.GSI1SK = taskDistrictGSI+t.DistrictID, taskSortKey(t)
	}
	return it
}

func (it taskItem) record() (rekey.TaskRecord, error) {
	rec := rekey.TaskRecord{
		Task: rekey.Task{
			ID: it.ID, Kind: it.Kind, Name: it.Name, ParentTaskID: it.ParentTaskID, Status: rekey.TaskStatus(it.Status), DistrictID: it.DistrictID,
			Selection:  it.Selection.selection(),
			Delivery:   rekey.Delivery{Mode: rekey.DeliveryMode(it.DeliveryMode)},
			ScheduleID: it.ScheduleID,
			Total:      it.Total, Processed: it.Processed, Succeeded: it.Succeeded, Emailed: it.Emailed,
			NoEmail: it.NoEmail, Notified: it.Notified, Failed: it.Failed, Skipped: it.Skipped,
			CreatedBy: it.CreatedBy, CreatedAt: it.CreatedAt.Time, FinishedAt: it.FinishedAt.Time,
			ApprovedBy: it.ApprovedBy, DecidedAt: it.DecidedAt.Time,
			Waiting: it.Waiting, EstimatedFinishAt: it.EstimatedFinishAt.Time,
		},
		CreatorRole:     rekey.Role(it.CreatorRole),
		CreatorSchoolID: it.CreatorSchoolID,
		Policy:          rekey.PasswordPolicy{MinLengthStaff: it.Policy.MinLengthStaff, MinLengthStudent: it.Policy.MinLengthStudent, MaxLength: it.Policy.MaxLength},
		RequestID:       it.RequestID,
		Reason:          it.Reason,
		StartedAt:       it.StartedAt.Time,
		LastProcessedAt: it.LastProcessedAt.Time,
		Plan:            rekey.TaskPlan{Cursor: it.PlanCursor, Chunks: it.PlanChunks, Enqueued: it.PlanEnqueued, Done: it.PlanDone},
		FinishNoticeAt:  it.FinishNoticeAt.Time,
	}
	rec.KidFriendlyMaxGrade = it.KidFriendlyMaxGrade
	rec.Funnel, rec.FunnelAt = it.Funnel.funnel(), it.FunnelAt.Time
	rec.Task.ImportCounts = it.ImportCounts.counts()
	if rec.Task.Selection.UserIDs == nil {
		rec.Task.Selection.UserIDs = []string{}
	}
	return rec, nil
}

// secretsItem is a task's sealed key (TASK#<id> / KEY); DynamoDB deletes
// it after rekey.PasswordRetention, which erases every password sealed with
// it, and the store stops returning it at that moment.
type secretsItem struct {
	PK                    string     `dynamodbav:"PK"`
	SK                    string     `dynamodbav:"SK"`
	SealedKey             []byte     `dynamodbav:"sealedKey"`
	SealedDefaultPassword []byte     `dynamodbav:"sealedDefaultPassword,omitempty"`
	ExpiresAt             storedTime `dynamodbav:"expiresAt,omitempty"`
	TTL                   int64      `dynamodbav:"ttl"`
}

func (it secretsItem) secrets() (rekey.TaskSecrets, error) {
	return rekey.TaskSecrets{SealedKey: it.SealedKey, SealedDefaultPassword: it.SealedDefaultPassword, ExpiresAt: it.ExpiresAt.Time}, nil
}

// idempotencyItem maps an actor's Idempotency-Key to the task it started.
// RequestHash is absent on items written before it existed; those match
// any request.
type idempotencyItem struct {
	PK          string `dynamodbav:"PK"`
	SK          string `dynamodbav:"SK"`
	TaskID      string `dynamodbav:"taskId"`
	RequestHash string `dynamodbav:"requestHash,omitempty"`
	TTL         int64  `dynamodbav:"ttl"`
}

// errKeyUsed is the private outcome of an Idempotency-Key used before.
var errKeyUsed = errors.New("idempotency key used")

// CreateTask writes a new task (and its secrets and audit entry) in one
// transaction; with an idempotency key (already scoped to the actor) it
// also claims the key with its request hash, and a key used before returns
// the task it started instead, created false, or
// rekey.ErrIdempotencyKeyReused when it came with another request.
func (s *Store) CreateTask(ctx context.Context, rec rekey.TaskRecord, secrets *rekey.TaskSecrets, idem rekey.Idempotency, audit rekey.AuditEntry) (string, bool, error) {
	idempotencyKey := idem.Key
	id := rec.Task.ID
	if !rekey.ValidID(id) || rec.Task.CreatedAt.IsZero() {
		return "", false, fmt.Errorf("dynamo: create task: id %q and createdAt are required", id)
	}
	absent := expression.AttributeNotExists(expression.Name("PK"))
	var tx transaction
	step, err := s.txPut(newTaskItem(rec), absent)
	tx.add(step, err, rekey.ErrConflict)
	if secrets != nil {
		step, err = s.txPut(secretsItem{
			PK: taskPK(id), SK: taskKeySK, SealedKey: secrets.SealedKey, SealedDefaultPassword: secrets.SealedDefaultPassword,
			ExpiresAt: storedTime{secrets.ExpiresAt}, TTL: ttlAfter(secrets.ExpiresAt),
		}, absent)
		tx.add(step, err, rekey.ErrConflict)
	}
	if idempotencyKey != "" {
		step, err = s.txPut(idempotencyItem{
			PK: idempotencyPrefix + idempotencyKey, SK: idempotencySK, TaskID: id, RequestHash: idem.RequestHash,
			TTL: ttlAfter(rec.Task.CreatedAt.Add(rekey.IdempotencyKeep)),
		}, absent)
		tx.add(step, err, errKeyUsed)
	}
	s.addAudit(&tx, audit)
	err = s.transact(ctx, &tx)
	if errors.Is(err, errKeyUsed) {
		var it idempotencyItem
		if err := s.getItem(ctx, idempotencyPrefix+idempotencyKey, idempotencySK, &it); err != nil {
			return "", false, fmt.Errorf("dynamo: create task: read idempotency key: %w", err)
		}
		if it.RequestHash != "" && it.RequestHash != idem.RequestHash {
			return "", false, fmt.Errorf("dynamo: create task: %w", rekey.ErrIdempotencyKeyReused)
		}
		return it.TaskID, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("dynamo: create task %s: %w", id, err)
	}
	return id, true, nil
}

// GetTask returns task id, or rekey.ErrNotFound.
func (s *Store) GetTask(ctx context.Context, id string) (rekey.TaskRecord, error) {
	var it taskItem
	if err := s.getItem(ctx, taskPK(id), taskSK, &it); err != nil {
		return rekey.TaskRecord{}, fmt.Errorf("dynamo: get task %s: %w", id, err)
	}
	rec, err := it.record()
	if err != nil {
		return rekey.TaskRecord{}, fmt.Errorf("dynamo: get task %s: %w", id, err)
	}
	return rec, nil
}

// GetTaskSecrets returns task id's sealed key, or rekey.ErrNotFound when it
// has none or they have expired (DynamoDB deletes expired items late).
func (s *Store) GetTaskSecrets(ctx context.Context, id string) (rekey.TaskSecrets, error) {
	var it secretsItem
	if err := s.getItem(ctx, taskPK(id), taskKeySK, &it); err != nil {
		return rekey.TaskSecrets{}, fmt.Errorf("dynamo: get task key %s: %w", id, err)
	}
	secrets, err := it.secrets()
	if err != nil {
		return rekey.TaskSecrets{}, fmt.Errorf("dynamo: get task key %s: %w", id, err)
	}
	if !s.now().Before(secrets.ExpiresAt) {
		return rekey.TaskSecrets{}, fmt.Errorf("dynamo: get task key %s: expired: %w", id, rekey.ErrNotFound)
	}
	return secrets, nil
}

// ListTasks returns one page of tasks, newest first: every task (GSI2) or a
// district's (GSI1), narrowed to those created by f.CreatedBy or by
// someone of school f.CreatorSchoolID when either is set.
func (s *Store) ListTasks(ctx context.Context, f rekey.TaskFilter) ([]rekey.TaskRecord, string, error) {
	index, pkName, skName, partition := "GSI2", "GSI2PK", "GSI2SK", allTasksGSI
	if !f.AllDistricts {
		if f.DistrictID == "" {
			return nil, "", nil
		}
		index, pkName, skName, partition = "GSI1", "GSI1PK", "GSI1SK", taskDistrictGSI+f.DistrictID
	}
	var filters []expression.ConditionBuilder
	var mine []expression.ConditionBuilder
	if f.CreatedBy != "" {
		mine = append(mine, expression.Name("createdBy").Equal(expression.Value(f.CreatedBy)))
	}
	if f.CreatorSchoolID != "" {
		mine = append(mine, expression.Name("creatorSchoolId").Equal(expression.Value(f.CreatorSchoolID)))
	}
	switch len(mine) {
	case 1:
		filters = append(filters, mine[0])
	case 2:
		filters = append(filters, expression.Or(mine[0], mine[1]))
	}
	if f.ScheduleID != "" {
		filters = append(filters, expression.Name("scheduleId").Equal(expression.Value(f.ScheduleID)))
	}
	query, err := s.newQuery(index, expression.Key(pkName).Equal(expression.Value(partition)), filters, true)
	if err != nil {
		return nil, "", fmt.Errorf("dynamo: list tasks: %w", err)
	}
	l := listing{
		query:    query,
		keyNames: []string{"PK", "SK", pkName, skName},
		owns: func(key map[string]string) bool {
			return strings.HasPrefix(key["PK"], taskPrefix) && key["SK"] == taskSK && key[pkName] == partition
		},
		filtered: len(filters) > 0,
	}
	items, next, err := s.read(ctx, l, f.Cursor, rekey.TaskPaging.Clamp(f.Limit))
	if err != nil {
		return nil, "", fmt.Errorf("dynamo: list tasks: %w", err)
	}
	out := make([]rekey.TaskRecord, 0, len(items))
	for _, item := range items {
		var it taskItem
		if err := unmarshalItem(item, &it); err != nil {
			return nil, "", fmt.Errorf("dynamo: list tasks: %w", err)
		}
		rec, err := it.record()
		if err != nil {
			return nil, "", fmt.Errorf("dynamo: list tasks: task %s: %w", it.ID, err)
		}
		out = append(out, rec)
	}
	return out, next, nil
}

// unfinished is the condition that a task may still change state: queued
// or running, and not fully planned and processed.
// live is the condition that a task still runs (queued or running, not
// cancelled or failed): what a worker's lease renewal and its writes that
// change passwords require.
func live() expression.ConditionBuilder {
	status := expression.Name("status")
	return status.Equal(expression.Value(string(rekey.TaskQueued))).Or(status.Equal(expression.Value(string(rekey.TaskRunning))))
}

func unfinished() expression.ConditionBuilder {
	status := expression.Name("status")
	active := status.Equal(expression.Value(string(rekey.TaskQueued))).Or(status.Equal(expression.Value(string(rekey.TaskRunning))))
	done := expression.Name("planDone").Equal(expression.Value(true)).
		And(expression.Name("processed").GreaterThanEqual(expression.Name("total")))
	return active.And(expression.Not(done))
}

// CancelTask sets task id to cancelled with reason, at audit.At, and writes
// audit, in one transaction; a finished (or missing) task is
// rekey.ErrConflict. It returns the task as it is afterwards.
func (s *Store) CancelTask(ctx context.Context, id, reason string, audit rekey.AuditEntry) (rekey.TaskRecord, error) {
	at := audit.At
	if at.IsZero() {
		at = s.now()
	}
	update := expression.Set(expression.Name("status"), expression.Value(string(rekey.TaskCancelled))).
		Set(expression.Name("finishedAt"), expression.Value(formatTime(at))).
		Set(expression.Name("reason"), expression.Value(reason)).
		Remove(expression.Name("waiting")).
		Remove(expression.Name("estimatedFinishAt"))
	var tx transaction
	step, err := s.txUpdate(taskPK(id), taskSK, update, unfinished())
	tx.add(step, err, rekey.ErrConflict)
	s.addAudit(&tx, audit)
	if err := s.transact(ctx, &tx); err != nil {
		return rekey.TaskRecord{}, fmt.Errorf("dynamo: cancel task %s: %w", id, err)
	}
	return s.GetTask(ctx, id)
}

// DecideTask records the second person's decision on task id, which must
// still be awaiting approval (else rekey.ErrConflict, nothing written):
// approved, it becomes queued with approvedBy; rejected, it ends cancelled
// with reason. audit is written in the same transaction. It returns the
// task as it is afterwards.
func (s *Store) DecideTask(ctx context.Context, id string, approve bool, reason string, audit rekey.AuditEntry) (rekey.TaskRecord, error) {
	at := audit.At
	if at.IsZero() {
		at = s.now()
	}
	update := expression.Set(expression.Name("decidedAt"), expression.Value(formatTime(at)))
	if approve {
		update = update.Set(expression.Name("status"), expression.Value(string(rekey.TaskQueued))).
			Set(expression.Name("approvedBy"), expression.Value(audit.ActorID))
	} else {
		update = update.Set(expression.Name("status"), expression.Value(string(rekey.TaskCancelled))).
			Set(expression.Name("finishedAt"), expression.Value(formatTime(at))).
			Set(expression.Name("reason"), expression.Value(reason))
	}
	awaiting := expression.Name("status").Equal(expression.Value(string(rekey.TaskAwaitingApproval)))
	var tx transaction
	step, err := s.txUpdate(taskPK(id), taskSK, update, awaiting)
	tx.add(step, err, rekey.ErrConflict)
	s.addAudit(&tx, audit)
	if err := s.transact(ctx, &tx); err != nil {
		return rekey.TaskRecord{}, fmt.Errorf("dynamo: decide task %s: %w", id, err)
	}
	return s.GetTask(ctx, id)
}

// FailTask ends task id as failed, saying why, unless it has finished.
func (s *Store) FailTask(ctx context.Context, id, reason string, at time.Time) error {
	update := expression.Set(expression.Name("status"), expression.Value(string(rekey.TaskFailed))).
		Set(expression.Name("finishedAt"), expression.Value(formatTime(at))).
		Set(expression.Name("reason"), expression.Value(reason))
	cond := unfinished()
	_, err := s.updateItem(ctx, taskPK(id), taskSK, update, &cond, rekey.ErrConflict)
	if err != nil && !errors.Is(err, rekey.ErrConflict) {
		return fmt.Errorf("dynamo: fail task %s: %w", id, err)
	}
	return nil
}

// ClaimFinishNotice records, at at, that the email telling task id's
// creator it finished is being sent, unless it was claimed before
// (rekey.ErrConflict): one claim per task, however many workers see its
// last chunk complete.
func (s *Store) ClaimFinishNotice(ctx context.Context, id string, at time.Time) error {
	update := expression.Set(expression.Name("finishNoticeAt"), expression.Value(formatTime(at)))
	cond := expression.AttributeExists(expression.Name("PK")).And(expression.AttributeNotExists(expression.Name("finishNoticeAt")))
	if _, err := s.updateItem(ctx, taskPK(id), taskSK, update, &cond, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: claim the finish notice of task %s: %w", id, err)
	}
	return nil
}

// ReleaseFinishNotice gives back the claim ClaimFinishNotice made at at,
// when the email could not be queued, so that a retry may claim it again.
func (s *Store) ReleaseFinishNotice(ctx context.Context, id string, at time.Time) error {
	update := expression.Remove(expression.Name("finishNoticeAt"))
	cond := expression.Name("finishNoticeAt").Equal(expression.Value(formatTime(at)))
	if _, err := s.updateItem(ctx, taskPK(id), taskSK, update, &cond, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: release the finish notice of task %s: %w", id, err)
	}
	return nil
}

// SetWaiting records why task id is paused and when it should finish.
func (s *Store) SetWaiting(ctx context.Context, id, waiting string, estimatedFinishAt time.Time) error {
	update := expression.Set(expression.Name("waiting"), expression.Value(waiting)).
		Set(expression.Name("estimatedFinishAt"), expression.Value(formatTime(estimatedFinishAt)))
	cond := expression.AttributeExists(expression.Name("PK"))
	if _, err := s.updateItem(ctx, taskPK(id), taskSK, update, &cond, rekey.ErrNotFound); err != nil {
		return fmt.Errorf("dynamo: set task %s waiting: %w", id, err)
	}
	return nil
}

// SaveFunnel remembers f, worked out at at, on task id: one UpdateItem of
// the funnel's own attributes, with no condition on, nor change to, the
// status, plan or counters the workers write, so it never makes their
// conditional writes fail nor fails because of them. It refuses
// (rekey.ErrConflict) when the task is gone — it must not write a stray
// item — or already holds a funnel worked out after at (a slower reader
// must not put an older funnel back).
func (s *Store) SaveFunnel(ctx context.Context, id string, f rekey.Funnel, at time.Time) error {
	update := expression.Set(expression.Name("funnel"), expression.Value(newFunnelItem(&f))).
		Set(expression.Name("funnelAt"), expression.Value(formatTime(at)))
	funnelAt := expression.Name("funnelAt")
	cond := expression.AttributeExists(expression.Name("PK")).
		And(expression.Or(expression.AttributeNotExists(funnelAt), funnelAt.LessThanEqual(expression.Value(formatTime(at)))))
	if _, err := s.updateItem(ctx, taskPK(id), taskSK, update, &cond, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: save the funnel of task %s: %w", id, err)
	}
	return nil
}
