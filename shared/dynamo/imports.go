package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// Sort keys of an import task's own items, beside its TASK item.
const (
	importSK          = "IMPORT"
	importChunkPrefix = "IMPORTROWS#"
)

func importChunkSK(n int) string { return fmt.Sprintf("%s%06d", importChunkPrefix, n) }

// importItem is an import's job (TASK#<id> / IMPORT).
type importItem struct {
	PK            string     `dynamodbav:"PK"`
	SK            string     `dynamodbav:"SK"`
	DistrictID    string     `dynamodbav:"districtId"`
	ActorID       string     `dynamodbav:"actorId"`
	Format        string     `dynamodbav:"format"`
	Orgs          []byte     `dynamodbav:"orgs,omitempty"`
	SourceKey     string     `dynamodbav:"sourceKey,omitempty"`
	Chunks        int        `dynamodbav:"chunks"`
	Create        int        `dynamodbav:"create"`
	Update        int        `dynamodbav:"update"`
	Unchanged     int        `dynamodbav:"unchanged"`
	Disable       int        `dynamodbav:"disable"`
	SchoolsCreate int        `dynamodbav:"schoolsCreate"`
	CreatedAt     storedTime `dynamodbav:"createdAt"`
	TTL           int64      `dynamodbav:"ttl"`
}

// importChunkItem is one slice of an import's rows and, once done, its
// results (TASK#<id> / IMPORTROWS#<000042>). Rows are at most a few
// hundred, well inside DynamoDB's 400 KB item limit.
type importChunkItem struct {
	PK      string                  `dynamodbav:"PK"`
	SK      string                  `dynamodbav:"SK"`
	Index   int                     `dynamodbav:"index"`
	Rows    []byte                  `dynamodbav:"rows"`
	Done    bool                    `dynamodbav:"done"`
	Results []rekey.ImportRowResult `dynamodbav:"results,omitempty"`
	TTL     int64                   `dynamodbav:"ttl"`
}

// PutImportChunk writes one chunk of import task id's rows (one put: it is
// large), before CreateImport writes the task, so that a start can store
// a file's rows chunk by chunk as it reads them instead of holding them
// all. createdAt is the task's: a chunk expires with the task's
// retention, and one left behind by a failed start expires unseen. A
// chunk already written is rekey.ErrConflict.
func (s *Store) PutImportChunk(ctx context.Context, id string, createdAt time.Time, c rekey.ImportChunk) error {
	if !rekey.ValidID(id) || createdAt.IsZero() || c.Index < 0 {
		return fmt.Errorf("dynamo: put import chunk: id %q, createdAt and an index are required", id)
	}
	absent := expression.AttributeNotExists(expression.Name("PK"))
	it := importChunkItem{PK: taskPK(id), SK: importChunkSK(c.Index), Index: c.Index, Rows: c.Rows,
		TTL: ttlAfter(createdAt.Add(rekey.ResultRetention))}
	if err := s.putItem(ctx, it, &absent, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: create import %s: chunk %d: %w", id, c.Index, err)
	}
	return nil
}

// CreateImport writes an import task in one transaction: the task item
// (the task centre's view: kind import, total, the plan done), the job and
// the audit entry of its start, so the task appears only with everything
// it needs and never without its record of who started it. Its chunks are
// written beforehand (PutImportChunk); those left behind by a failed start
// expire with the task's retention.
func (s *Store) CreateImport(ctx context.Context, rec rekey.TaskRecord, job rekey.ImportJob, audit rekey.AuditEntry) error {
	id := rec.Task.ID
	if !rekey.ValidID(id) || rec.Task.CreatedAt.IsZero() || job.TaskID != id {
		return fmt.Errorf("dynamo: create import: id %q, createdAt and the job's task id are required", id)
	}
	ttl := ttlAfter(rec.Task.CreatedAt.Add(rekey.ResultRetention))
	absent := expression.AttributeNotExists(expression.Name("PK"))
	var tx transaction
	step, err := s.txPut(newTaskItem(rec), absent)
	tx.add(step, err, rekey.ErrConflict)
	step, err = s.txPut(importItem{
		PK: taskPK(id), SK: importSK, DistrictID: job.DistrictID, ActorID: job.ActorID, Format: job.Format,
		Orgs: job.Orgs, SourceKey: job.SourceKey, Chunks: job.Chunks,
		Create: job.Counts.Create, Update: job.Counts.Update, Unchanged: job.Counts.Unchanged,
		Disable: job.Counts.Disable, SchoolsCreate: job.Counts.SchoolsCreate,
		CreatedAt: storedTime{job.CreatedAt}, TTL: ttl,
	}, absent)
	tx.add(step, err, rekey.ErrConflict)
	s.addAudit(&tx, audit)
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: create import %s: %w", id, err)
	}
	return nil
}

// GetImport returns the job of import task id, or rekey.ErrNotFound.
func (s *Store) GetImport(ctx context.Context, id string) (rekey.ImportJob, error) {
	var it importItem
	if err := s.getItem(ctx, taskPK(id), importSK, &it); err != nil {
		return rekey.ImportJob{}, fmt.Errorf("dynamo: get import %s: %w", id, err)
	}
	return rekey.ImportJob{
		TaskID: id, DistrictID: it.DistrictID, ActorID: it.ActorID, Format: it.Format, Orgs: it.Orgs,
		SourceKey: it.SourceKey, Chunks: it.Chunks, CreatedAt: it.CreatedAt.Time,
		Counts: rekey.ImportCounts{Create: it.Create, Update: it.Update, Unchanged: it.Unchanged,
			Disable: it.Disable, SchoolsCreate: it.SchoolsCreate},
	}, nil
}

// GetImportChunk returns chunk index of import task id (strongly
// consistent), or rekey.ErrNotFound.
func (s *Store) GetImportChunk(ctx context.Context, id string, index int) (rekey.ImportChunk, error) {
	var it importChunkItem
	if err := s.getItem(ctx, taskPK(id), importChunkSK(index), &it); err != nil {
		return rekey.ImportChunk{}, fmt.Errorf("dynamo: get import %s chunk %d: %w", id, index, err)
	}
	return rekey.ImportChunk{TaskID: id, Index: it.Index, Rows: it.Rows, Done: it.Done, Results: it.Results}, nil
}

// FinishImportChunk records a chunk's results and adds its tally to the
// task's counters in one transaction, conditional on the chunk not being
// done yet: a chunk worked twice (a redelivered message) is counted once.
// The second finisher gets rekey.ErrConflict; a missing chunk or task
// rekey.ErrNotFound.
func (s *Store) FinishImportChunk(ctx context.Context, id string, index int, results []rekey.ImportRowResult, tally rekey.ImportTally, at time.Time) error {
	var tx transaction
	update := expression.Set(expression.Name("done"), expression.Value(true)).
		Set(expression.Name("results"), expression.Value(results))
	cond := expression.AttributeExists(expression.Name("PK")).And(expression.Name("done").Equal(expression.Value(false)))
	step, err := s.txUpdate(taskPK(id), importChunkSK(index), update, cond)
	tx.add(step, err, rekey.ErrConflict)
	counters := expression.Add(expression.Name("processed"), expression.Value(tally.Succeeded+tally.Skipped+tally.Failed)).
		Add(expression.Name("succeeded"), expression.Value(tally.Succeeded)).
		Add(expression.Name("skipped"), expression.Value(tally.Skipped)).
		Add(expression.Name("failed"), expression.Value(tally.Failed)).
		Set(expression.Name("lastProcessedAt"), expression.Value(formatTime(at)))
	step, err = s.txUpdate(taskPK(id), taskSK, counters, expression.AttributeExists(expression.Name("PK")))
	tx.add(step, err, rekey.ErrNotFound)
	if err := s.transact(ctx, &tx); err != nil {
		if errors.Is(err, rekey.ErrConflict) {
			if _, getErr := s.GetImportChunk(ctx, id, index); errors.Is(getErr, rekey.ErrNotFound) {
				err = rekey.ErrNotFound
			}
		}
		return fmt.Errorf("dynamo: finish import %s chunk %d: %w", id, index, err)
	}
	return nil
}

// WriteImportUsers writes an import chunk's rows (creates and updates,
// each with its audit entry) in as few transactions as DynamoDB's 100
// items allow: about 20 rows a call instead of one. A row's items (user,
// claims, audit entry) always share one transaction, so a row is written
// whole or not at all. A row whose condition fails (its username or email
// taken, its user changed since it was read, its id already created by
// another attempt at the chunk) is left out and the rest of its
// transaction is tried again without it; its error (rekey.ErrUsernameTaken,
// rekey.ErrVersionConflict, rekey.ErrConflict …) is at its index in the
// returned slice, nil for a row written. A transaction that competing ones
// kept cancelling gives rekey.ErrConflict for each of its rows. The error
// is for failures of the store: some rows may then be written and others
// not, and a retry finds the written ones as they are.
func (s *Store) WriteImportUsers(ctx context.Context, writes []rekey.ImportWrite) ([]error, error) {
	rows := make([]transaction, len(writes))
	for i, w := range writes {
		tx := &rows[i]
		var err error
		if w.Creates() {
			err = s.addUserCreate(tx, w.After)
		} else {
			err = s.addUserUpdate(tx, w.Before, w.After)
		}
		if err == nil {
			s.addAudit(tx, w.Audit)
			err = tx.err
		}
		if err != nil {
			return nil, fmt.Errorf("dynamo: write import users: %s: %w", w.After.ID, err)
		}
	}
	out := make([]error, len(writes))
	var group []int
	items := 0
	for i := range rows {
		if n := len(rows[i].steps); items+n > rekey.MaxWriteItems && len(group) > 0 {
			if err := s.writeImportGroup(ctx, rows, group, out); err != nil {
				return nil, err
			}
			group, items = nil, 0
		}
		group = append(group, i)
		items += len(rows[i].steps)
	}
	if len(group) > 0 {
		if err := s.writeImportGroup(ctx, rows, group, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeImportGroup writes the rows of group in one transaction, dropping
// the rows whose conditions fail (their errors set in out) until the
// rest is written. Each pass drops at least one row, so a group of n rows
// costs at most n+1 calls.
func (s *Store) writeImportGroup(ctx context.Context, rows []transaction, group []int, out []error) error {
	for len(group) > 0 {
		var steps []types.TransactWriteItem
		var owner, offset []int // per step: the row, and the step's index within the row
		for _, r := range group {
			for j, step := range rows[r].steps {
				steps = append(steps, step)
				owner, offset = append(owner, r), append(offset, j)
			}
		}
		reasons, err := s.transactReasons(ctx, steps)
		switch {
		case errors.Is(err, errContended):
			for _, r := range group {
				out[r] = fmt.Errorf("dynamo: write import users: %w", rekey.ErrConflict)
			}
			return nil
		case err != nil:
			return fmt.Errorf("dynamo: write import users: %w", err)
		case reasons == nil:
			return nil
		}
		failed := map[int]bool{}
		for i, code := range reasons {
			if code != "ConditionalCheckFailed" || i >= len(owner) || failed[owner[i]] {
				continue
			}
			r := owner[i]
			failed[r] = true
			out[r] = fmt.Errorf("dynamo: write import users: %w", rows[r].failures[offset[i]])
		}
		if len(failed) == 0 {
			return fmt.Errorf("dynamo: write import users: transaction cancelled: %v", reasons)
		}
		group = slices.DeleteFunc(group, func(r int) bool { return failed[r] })
	}
	return nil
}
