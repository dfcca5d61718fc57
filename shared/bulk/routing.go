package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// WorkQueues routes chunk messages to the queue of their delivery: email
// links to the email work queue, whose workers are few because SES's
// sending rate bounds them (REKEY_BULK_WORKER_CONCURRENCY), and default or
// generated passwords to the password work queue, whose workers are many
// because argon2id CPU and DynamoDB writes bound them, not SES. The
// planner, the sweeper and the workers (putting a chunk back) send through
// it, so a chunk always goes back to the queue it came from.
//
// A separate queue rather than one queue with an attribute: SQS event
// source filters see only the message body, and a mapping discards the
// records its filter does not match, so two mappings on one queue would
// each delete the other's messages. Two queues also keep a 100,000-user
// password task from standing in front of a school's reset links, and give
// each path its own dead-letter queue and alarm.
//
// A message that names no delivery (queued before routing existed, or put
// back as raw JSON without one) goes to the email queue, whose worker runs
// every delivery: it is slower there, never lost.
type WorkQueues struct {
	// Email takes email-link chunks and any message without a delivery.
	Email DelayedQueue
	// Passwords takes default_password and generated_passwords chunks;
	// nil sends them to Email (one queue for everything, as in tests).
	Passwords DelayedQueue
}

// NewWorkQueues returns the router, or an error without an email queue.
func NewWorkQueues(email, passwords DelayedQueue) (*WorkQueues, error) {
	if email == nil {
		return nil, errors.New("bulk: the work queues need the email work queue")
	}
	return &WorkQueues{Email: email, Passwords: passwords}, nil
}

// PasswordDelivery reports whether mode is one of the deliveries that run
// on the password work queue.
func PasswordDelivery(mode rekey.DeliveryMode) bool {
	return mode == rekey.DeliverDefaultPassword || mode == rekey.DeliverGeneratedPasswords
}

// Send sends message to its delivery's queue.
func (q *WorkQueues) Send(ctx context.Context, message any) error {
	return q.For(deliveryOf(message)).Send(ctx, message)
}

// SendDelayed sends message to its delivery's queue after delay.
func (q *WorkQueues) SendDelayed(ctx context.Context, message any, delay time.Duration) error {
	return q.For(deliveryOf(message)).SendDelayed(ctx, message, delay)
}

// SendBatch sends messages, each to its delivery's queue, keeping their
// order within each queue (a planner's batch is one task: one queue).
func (q *WorkQueues) SendBatch(ctx context.Context, messages []any) error {
	var email, passwords []any
	for _, m := range messages {
		if q.For(deliveryOf(m)) == q.Email {
			email = append(email, m)
		} else {
			passwords = append(passwords, m)
		}
	}
	var errs []error
	if len(email) > 0 {
		errs = append(errs, q.Email.SendBatch(ctx, email))
	}
	if len(passwords) > 0 {
		errs = append(errs, q.Passwords.SendBatch(ctx, passwords))
	}
	return errors.Join(errs...)
}

// For returns the queue of delivery mode.
func (q *WorkQueues) For(mode rekey.DeliveryMode) DelayedQueue {
	if q.Passwords != nil && PasswordDelivery(mode) {
		return q.Passwords
	}
	return q.Email
}

// deliveryOf reads the delivery a work message names: a Message, or the
// raw JSON body a worker puts back unchanged.
func deliveryOf(message any) rekey.DeliveryMode {
	switch m := message.(type) {
	case Message:
		return m.Delivery
	case *Message:
		return m.Delivery
	case json.RawMessage:
		return rawDelivery(m)
	case []byte:
		return rawDelivery(m)
	}
	return ""
}

func rawDelivery(body []byte) rekey.DeliveryMode {
	var m struct {
		Delivery rekey.DeliveryMode `json:"delivery"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return m.Delivery
}
