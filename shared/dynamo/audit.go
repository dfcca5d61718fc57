package dynamo

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// Key prefixes of audit entries.
const (
	auditPrefix = "AUDIT#"
	actorPrefix = "ACTOR#"
)

// auditItem is an audit entry as stored: under its target, newest last in
// the sort key, and under its actor in GSI1.
type auditItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`

	ID         string         `dynamodbav:"id"`
	At         storedTime     `dynamodbav:"at,omitempty"`
	DistrictID string         `dynamodbav:"districtId,omitempty"`
	ActorID    string         `dynamodbav:"actorId,omitempty"`
	ActorName  string         `dynamodbav:"actorName,omitempty"`
	TargetID   string         `dynamodbav:"targetId,omitempty"`
	Action     string         `dynamodbav:"action"`
	Outcome    string         `dynamodbav:"outcome,omitempty"`
	Before     map[string]any `dynamodbav:"before,omitempty"`
	After      map[string]any `dynamodbav:"after,omitempty"`
	Detail     string         `dynamodbav:"detail,omitempty"`
	ClientIP   string         `dynamodbav:"clientIp,omitempty"`
	RequestID  string         `dynamodbav:"requestId,omitempty"`
}

// newAuditItem stores e, whose ID and At must be set.
func newAuditItem(e rekey.AuditEntry) auditItem {
	sk := formatTime(e.At) + "#" + e.ID
	it := auditItem{
		PK: auditPrefix + e.TargetID, SK: sk,
		ID: e.ID, At: storedTime{e.At}, DistrictID: e.DistrictID,
		ActorID: e.ActorID, ActorName: e.ActorName, TargetID: e.TargetID,
		Action: e.Action, Outcome: e.Outcome, Before: e.Before, After: e.After,
		Detail: e.Detail, ClientIP: e.ClientIP, RequestID: e.RequestID,
	}
	// An anonymous event (e.g. a forgot-password request) has no actor and
	// stays out of the actor index.
	if e.ActorID != "" {
		it.GSI1PK, it.GSI1SK = actorPrefix+e.ActorID, sk
	}
	return it
}

func (it auditItem) entry() rekey.AuditEntry {
	return rekey.AuditEntry{
		ID: it.ID, At: it.At.Time, DistrictID: it.DistrictID,
		ActorID: it.ActorID, ActorName: it.ActorName, TargetID: it.TargetID,
		Action: it.Action, Outcome: it.Outcome, Before: it.Before, After: it.After,
		Detail: it.Detail, ClientIP: it.ClientIP, RequestID: it.RequestID,
	}
}

// completeAudit fills an entry's ID and time when the caller left them out.
func (s *Store) completeAudit(e rekey.AuditEntry) rekey.AuditEntry {
	if e.ID == "" {
		e.ID = strings.ToLower(rand.Text())
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	return e
}

// addAudit adds the write of e to a transaction.
func (s *Store) addAudit(tx *transaction, e rekey.AuditEntry) {
	step, err := s.txPut(newAuditItem(s.completeAudit(e)), expression.AttributeNotExists(expression.Name("PK")))
	tx.add(step, err, rekey.ErrConflict)
}

// PutAudit records one audit entry on its own, for events that change no
// record (sign-in failures, forgot-password requests). An empty ID or zero
// At is filled in.
func (s *Store) PutAudit(ctx context.Context, e rekey.AuditEntry) error {
	cond := expression.AttributeNotExists(expression.Name("PK"))
	if err := s.putItem(ctx, newAuditItem(s.completeAudit(e)), &cond, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: put audit entry for %s: %w", e.TargetID, err)
	}
	return nil
}

// ListAudit returns the audit entries about targetID, newest first, at most
// limit (default 50, at most 200) per page.
func (s *Store) ListAudit(ctx context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error) {
	partition := auditPrefix + targetID
	query, err := s.newQuery("", expression.Key("PK").Equal(expression.Value(partition)), nil, true)
	if err != nil {
		return rekey.AuditPage{}, fmt.Errorf("dynamo: list audit of %s: %w", targetID, err)
	}
	page, err := s.auditPage(ctx, listing{
		query:    query,
		keyNames: []string{"PK", "SK"},
		owns:     func(key map[string]string) bool { return key["PK"] == partition },
	}, limit, cursor)
	if err != nil {
		return rekey.AuditPage{}, fmt.Errorf("dynamo: list audit of %s: %w", targetID, err)
	}
	return page, nil
}

// ListAuditByActor returns the audit entries of what actorID did, newest
// first, at most limit (default 50, at most 200) per page.
func (s *Store) ListAuditByActor(ctx context.Context, actorID string, limit int, cursor string) (rekey.AuditPage, error) {
	partition := actorPrefix + actorID
	query, err := s.newQuery("GSI1", expression.Key("GSI1PK").Equal(expression.Value(partition)), nil, true)
	if err != nil {
		return rekey.AuditPage{}, fmt.Errorf("dynamo: list audit by %s: %w", actorID, err)
	}
	page, err := s.auditPage(ctx, listing{
		query:    query,
		keyNames: []string{"PK", "SK", "GSI1PK", "GSI1SK"},
		owns: func(key map[string]string) bool {
			return key["GSI1PK"] == partition && strings.HasPrefix(key["PK"], auditPrefix)
		},
	}, limit, cursor)
	if err != nil {
		return rekey.AuditPage{}, fmt.Errorf("dynamo: list audit by %s: %w", actorID, err)
	}
	return page, nil
}

func (s *Store) auditPage(ctx context.Context, l listing, limit int, cursor string) (rekey.AuditPage, error) {
	items, next, err := s.read(ctx, l, cursor, rekey.AuditPaging.Clamp(limit))
	if err != nil {
		return rekey.AuditPage{}, err
	}
	page := rekey.AuditPage{Items: make([]rekey.AuditEntry, 0, len(items)), Next: next}
	for _, item := range items {
		var it auditItem
		if err := unmarshalItem(item, &it); err != nil {
			return rekey.AuditPage{}, err
		}
		page.Items = append(page.Items, it.entry())
	}
	return page, nil
}
