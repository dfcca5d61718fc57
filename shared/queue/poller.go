package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// ReceiveAPI is the part of the SQS API that Poller uses; *sqs.Client
// satisfies it.
type ReceiveAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// Handler is a Lambda SQS handler with ReportBatchItemFailures: it returns
// the ids of the messages that failed; an error fails the whole batch.
type Handler func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error)

// Poller feeds one queue to a Handler in process, as Lambda's event source
// mapping does: it long-polls up to MaxMessages messages, hands them over as
// an events.SQSEvent, deletes the messages that succeeded and leaves the
// failed ones on the queue, where they reappear after the visibility timeout
// and, after the queue's maxReceiveCount, move to its dead-letter queue.
type Poller struct {
	client  ReceiveAPI
	url     string
	arn     string
	region  string
	handler Handler

	// MaxMessages per batch: 1 to 10 (default 10).
	MaxMessages int32
	// WaitTime is the long-poll wait of one receive: up to 20 s (default 20 s).
	WaitTime time.Duration
	// FailedVisibility, when positive, makes failed messages visible again
	// after this long (whole seconds; below a second means at once) instead
	// of after the queue's visibility timeout; the local runner uses it to
	// retry sooner. Zero leaves them as Lambda does.
	FailedVisibility time.Duration
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
}

// NewPoller returns a Poller of the queue at queueURL. queueARN and region
// fill the events' EventSourceARN and AWSRegion (they may be "").
func NewPoller(client ReceiveAPI, queueURL, queueARN, region string, h Handler) *Poller {
	return &Poller{client: client, url: queueURL, arn: queueARN, region: region, handler: h, MaxMessages: 10, WaitTime: 20 * time.Second}
}

// Run polls until ctx ends, then returns nil. Receive errors are logged
// and retried after a pause.
func (p *Poller) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if _, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.logger().ErrorContext(ctx, "queue: poll", "queue", p.url, "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// PollOnce receives one batch (waiting up to WaitTime for it), hands it to
// the handler and settles it. It returns how many messages it received.
//
// When ctx ends (the local runner stopping), the messages in hand are
// still settled, with a context of their own: those handled are deleted,
// and those not (the handler was cut off, or ctx ended before it ran) are
// made visible again at once, so that the next start resumes them without
// waiting for the queue's visibility timeout (30 minutes on the work
// queue). For the same reason a receive is never cut off midway: a
// long poll abandoned while SQS hands it messages would leave them
// invisible; stopping takes at most WaitTime.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	maxMessages := p.MaxMessages
	if maxMessages < 1 || maxMessages > MaxBatch {
		maxMessages = MaxBatch
	}
	wait := min(max(p.WaitTime, 0), 20*time.Second)
	receiveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait+settleTimeout)
	defer cancel()
	out, err := p.client.ReceiveMessage(receiveCtx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.url),
		MaxNumberOfMessages:         maxMessages,
		WaitTimeSeconds:             int32(wait / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return 0, fmt.Errorf("queue: receive: %w", err)
	}
	if len(out.Messages) == 0 {
		return 0, nil
	}
	event := p.event(out.Messages)
	// settle bounds the calls that settle the batch, from when they start.
	settle := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	}
	if ctx.Err() != nil {
		sctx, cancel := settle()
		defer cancel()
		return len(out.Messages), p.release(sctx, event.Records, 0)
	}
	failed := p.handle(ctx, event)

	var done, retry []events.SQSMessage
	for _, m := range event.Records {
		if failed[m.MessageId] {
			retry = append(retry, m)
		} else {
			done = append(done, m)
		}
	}
	visibility := p.FailedVisibility
	if ctx.Err() != nil {
		visibility = 0
	} else if visibility <= 0 {
		retry = nil // left to the queue's visibility timeout, as Lambda does
	}
	sctx, cancelSettle := settle()
	defer cancelSettle()
	return len(out.Messages), errors.Join(p.delete(sctx, done), p.release(sctx, retry, visibility))
}

// settleTimeout bounds the calls that settle a batch once the poller's
// context has ended.
const settleTimeout = 5 * time.Second

// handle runs the handler and returns the ids of the failed messages. As
// with Lambda, an error, a panic or a failure id not in the batch fails the
// whole batch.
func (p *Poller) handle(ctx context.Context, event events.SQSEvent) (failed map[string]bool) {
	all := func() map[string]bool {
		ids := make(map[string]bool, len(event.Records))
		for _, m := range event.Records {
			ids[m.MessageId] = true
		}
		return ids
	}
	defer func() {
		if r := recover(); r != nil {
			p.logger().ErrorContext(ctx, "queue: handler panicked; the batch will be retried", "queue", p.url, "panic", fmt.Sprint(r))
			failed = all()
		}
	}()
	resp, err := p.handler(ctx, event)
	if err != nil {
		p.logger().ErrorContext(ctx, "queue: handler failed; the batch will be retried", "queue", p.url, "error", err)
		return all()
	}
	ids := all()
	failed = make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		if !ids[f.ItemIdentifier] {
			p.logger().ErrorContext(ctx, "queue: handler reported an unknown message id; the batch will be retried", "queue", p.url)
			return ids
		}
		failed[f.ItemIdentifier] = true
	}
	return failed
}

// event converts received messages into the event Lambda would deliver.
func (p *Poller) event(messages []types.Message) events.SQSEvent {
	records := make([]events.SQSMessage, 0, len(messages))
	for _, m := range messages {
		attrs := make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes))
		for name, a := range m.MessageAttributes {
			attrs[name] = events.SQSMessageAttribute{
				StringValue: a.StringValue, BinaryValue: a.BinaryValue,
				StringListValues: a.StringListValues, BinaryListValues: a.BinaryListValues,
				DataType: aws.ToString(a.DataType),
			}
		}
		records = append(records, events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             m.Attributes,
			MessageAttributes:      attrs,
			EventSourceARN:         p.arn,
			EventSource:            "aws:sqs",
			AWSRegion:              p.region,
		})
	}
	return events.SQSEvent{Records: records}
}

// delete removes the messages that were handled.
func (p *Poller) delete(ctx context.Context, messages []events.SQSMessage) error {
	if len(messages) == 0 {
		return nil
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(messages))
	for i, m := range messages {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle)}
	}
	out, err := p.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.url), Entries: entries})
	if err != nil {
		return fmt.Errorf("queue: delete handled messages: %w", err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("queue: delete handled messages: %d not deleted (%s)", len(out.Failed), aws.ToString(out.Failed[0].Code))
	}
	return nil
}

// release makes messages visible again after visibility (whole seconds;
// below a second means at once).
func (p *Poller) release(ctx context.Context, messages []events.SQSMessage, visibility time.Duration) error {
	if len(messages) == 0 {
		return nil
	}
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(messages))
	for i, m := range messages {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle),
			VisibilityTimeout: int32(max(visibility, 0) / time.Second),
		}
	}
	out, err := p.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(p.url), Entries: entries})
	if err != nil {
		return fmt.Errorf("queue: release messages: %w", err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("queue: release messages: %d not released (%s)", len(out.Failed), aws.ToString(out.Failed[0].Code))
	}
	return nil
}

func (p *Poller) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}
