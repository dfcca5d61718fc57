// Package batch settles the batches an SQS event source hands a Lambda
// function with ReportBatchItemFailures (SECURITY.md 15): each message is
// handled on its own and only the ids of those that failed are returned, so
// that SQS retries just them — and, after the queue's maxReceiveCount,
// keeps them in its dead-letter queue.
//
// A handler says what became of a message by what it returns:
//
//	nil               handled: SQS deletes it
//	Drop(err)         never handleable (malformed): logged loudly, deleted
//	Later(delay, err) not yet: a copy goes back on the queue after delay
//	                  and this one is deleted; if the copy cannot be sent
//	                  the message fails instead
//	any other error   failed: logged, reported, retried by SQS
//
// It imports no AWS SDK (only aws-lambda-go's event types), so that
// services such as shared/bulk use it without depending on SQS; the SQS
// client side is package queue.
package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Requeuer puts a message back on its queue after delay; *queue.Sender
// satisfies it.
type Requeuer interface {
	SendDelayed(ctx context.Context, message any, delay time.Duration) error
}

// Options say who handles a queue's batches.
type Options struct {
	// Name prefixes the log lines, e.g. "bulk planner".
	Name string
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
	// Requeue takes the messages a handler returns Later for; when nil
	// they fail instead (and SQS retries them after its visibility
	// timeout).
	Requeue Requeuer
}

// Handle calls handle for each message of event, in order, and returns
// the ids of those that failed. It never fails the batch as a whole.
func Handle(ctx context.Context, event events.SQSEvent, opt Options, handle func(context.Context, events.SQSMessage) error) events.SQSEventResponse {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var resp events.SQSEventResponse
	for _, m := range event.Records {
		err := handle(ctx, m)
		var drop *dropError
		var later *laterError
		switch {
		case err == nil:
			continue
		case errors.As(err, &drop):
			log.ErrorContext(ctx, opt.Name+": dropped a message that can never be handled", "messageId", m.MessageId, "error", drop.err)
			continue
		case errors.As(err, &later):
			if err = putBack(ctx, opt.Requeue, m, later.delay); err == nil {
				continue
			}
			err = fmt.Errorf("%w: %w", later.err, err)
		}
		log.WarnContext(ctx, opt.Name+": message failed; it will be retried",
			"messageId", m.MessageId, "receiveCount", m.Attributes["ApproximateReceiveCount"], "error", err)
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
	}
	return resp
}

// putBack sends m's body again, unchanged, after delay.
func putBack(ctx context.Context, requeue Requeuer, m events.SQSMessage, delay time.Duration) error {
	if requeue == nil {
		return errors.New("batch: no queue to put the message back on")
	}
	if err := requeue.SendDelayed(ctx, json.RawMessage(m.Body), delay); err != nil {
		return fmt.Errorf("batch: put back: %w", err)
	}
	return nil
}

// Drop marks err as permanent: the message is logged and deleted instead
// of being retried until it lands in the dead-letter queue.
func Drop(err error) error { return &dropError{err: err} }

type dropError struct{ err error }

func (e *dropError) Error() string { return "drop: " + e.err.Error() }
func (e *dropError) Unwrap() error { return e.err }

// Later asks for the message to be seen again after delay, because of why
// (such as another worker holding what it is about): it is put back on the
// queue and counts as handled, rather than failing, which would bring it
// back only after the visibility timeout and use up one of its receives.
func Later(delay time.Duration, why error) error { return &laterError{delay: delay, err: why} }

type laterError struct {
	delay time.Duration
	err   error
}

func (e *laterError) Error() string {
	return fmt.Sprintf("retry in %s: %v", e.delay, e.err)
}
func (e *laterError) Unwrap() error { return e.err }
