package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// Key prefix and sort key of outbox records.
const (
	deliveryPrefix = "MAIL#"
	deliverySK     = "MAIL"
)

// deliveryKeep is how long an outbox record is kept: longer than the
// longest a message can live in the mail queue and its dead-letter queue
// (14 days), so that a redriven job still finds its record.
const deliveryKeep = 30 * 24 * time.Hour

// deliveryItem is the outbox record of one mail job (MAIL#<job key> / MAIL).
type deliveryItem struct {
	PK         string     `dynamodbav:"PK"`
	SK         string     `dynamodbav:"SK"`
	Key        string     `dynamodbav:"key"`
	Kind       string     `dynamodbav:"kind"`
	State      string     `dynamodbav:"state"`
	Attempts   int        `dynamodbav:"attempts"`
	ClaimID    string     `dynamodbav:"claimId,omitempty"`
	LeaseUntil storedTime `dynamodbav:"leaseUntil,omitempty"`
	MessageID  string     `dynamodbav:"messageId,omitempty"`
	LastError  string     `dynamodbav:"lastError,omitempty"`
	Reason     string     `dynamodbav:"reason,omitempty"`
	CreatedAt  storedTime `dynamodbav:"createdAt,omitempty"`
	UpdatedAt  storedTime `dynamodbav:"updatedAt,omitempty"`
	TTL        int64      `dynamodbav:"ttl,omitempty"`
}

func (it deliveryItem) delivery() rekey.MailDelivery {
	return rekey.MailDelivery{
		Key:        it.Key,
		Kind:       rekey.JobKind(it.Kind),
		State:      rekey.DeliveryState(it.State),
		Attempts:   it.Attempts,
		ClaimID:    it.ClaimID,
		LeaseUntil: it.LeaseUntil.Time,
		MessageID:  it.MessageID,
		LastError:  it.LastError,
		Reason:     it.Reason,
		CreatedAt:  it.CreatedAt.Time,
		UpdatedAt:  it.UpdatedAt.Time,
	}
}

// ClaimDelivery claims the outbox record of mail job key for one sending
// attempt at time at, for lease: a conditional write that succeeds when
// there is no record yet, when the last attempt failed (PENDING), or when a
// SENDING claim's lease ended before at (its sender crashed). It returns the
// record as claimed, with a new ClaimID and Attempts counted up.
//
// A record already SENT or SKIPPED is rekey.ErrDeliveryFinished; one that
// another sender holds, rekey.ErrDeliveryBusy; with either error the record
// as it stands is returned too.
func (s *Store) ClaimDelivery(ctx context.Context, key string, kind rekey.JobKind, at time.Time, lease time.Duration) (rekey.MailDelivery, error) {
	if key == "" || lease <= 0 {
		return rekey.MailDelivery{}, fmt.Errorf("dynamo: claim delivery: key %q and lease %v are required", key, lease)
	}
	now := formatTime(at)
	state := expression.Name("state")
	claimable := expression.AttributeNotExists(expression.Name("PK")).
		Or(state.Equal(expression.Value(string(rekey.DeliveryPending)))).
		Or(state.Equal(expression.Value(string(rekey.DeliverySending))).
			And(expression.Name("leaseUntil").LessThanEqual(expression.Value(now))))
	claim := leaseClaim(expression.Set(expression.Name("key"), expression.Value(key)).
		Set(expression.Name("kind"), expression.Value(string(kind))).
		Set(state, expression.Value(string(rekey.DeliverySending))), at, lease, deliveryKeep)
	d, err := claimLease(ctx, s, deliveryPrefix+key, deliverySK, claim, claimable, deliveryItem.delivery,
		func(d rekey.MailDelivery) bool { return d.State.Finished() }, rekey.ErrDeliveryFinished, rekey.ErrDeliveryBusy)
	if err != nil {
		return d, fmt.Errorf("dynamo: claim delivery %s: %w", key, err)
	}
	return d, nil
}

// SaveDelivery records the outcome of the attempt that claimed d (same
// ClaimID, still SENDING; else rekey.ErrConflict): d.State SENT with
// MessageID, SKIPPED with Reason, or PENDING with LastError for a failed
// send that a later attempt may retry.
func (s *Store) SaveDelivery(ctx context.Context, d rekey.MailDelivery) error {
	if err := d.CheckOutcome(); err != nil {
		return fmt.Errorf("dynamo: save %w", err)
	}
	update := expression.Set(expression.Name("state"), expression.Value(string(d.State))).
		Remove(expression.Name("leaseUntil"))
	set := func(name, value string) {
		if value != "" {
			update = update.Set(expression.Name(name), expression.Value(value))
		}
	}
	set("updatedAt", formatTime(d.UpdatedAt))
	set("messageId", d.MessageID)
	set("lastError", d.LastError)
	set("reason", d.Reason)
	owned := expression.Name("claimId").Equal(expression.Value(d.ClaimID)).
		And(expression.Name("state").Equal(expression.Value(string(rekey.DeliverySending))))
	if _, err := s.updateItem(ctx, deliveryPrefix+d.Key, deliverySK, update, &owned, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: save delivery %s: %w", d.Key, err)
	}
	return nil
}

// GetDelivery returns the outbox record of mail job key, or
// rekey.ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, key string) (rekey.MailDelivery, error) {
	var it deliveryItem
	if err := s.getItem(ctx, deliveryPrefix+key, deliverySK, &it); err != nil {
		return rekey.MailDelivery{}, fmt.Errorf("dynamo: get delivery %s: %w", key, err)
	}
	return it.delivery(), nil
}
