// Package queue is Rekey's use of Amazon SQS: a Sender that puts JSON
// messages on a queue (at once or delayed), and a Poller that feeds a queue to a Lambda-style
// handler in process (the local runner and tests), behaving like Lambda's
// SQS event source mapping with ReportBatchItemFailures. The handlers'
// side of that contract, free of the AWS SDK, is package queue/batch.
package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// MaxBatch is the most messages one SQS batch call takes.
const MaxBatch = 10

// MaxDelay is the longest SQS holds a message back.
const MaxDelay = 15 * time.Minute

// SendAPI is the part of the SQS API that Sender uses; *sqs.Client
// satisfies it.
type SendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Sender puts JSON messages on one queue.
type Sender struct {
	client SendAPI
	url    string
}

// NewSender returns a Sender for the queue at queueURL.
func NewSender(client SendAPI, queueURL string) *Sender {
	return &Sender{client: client, url: queueURL}
}

// Send puts message, encoded as JSON, on the queue.
func (s *Sender) Send(ctx context.Context, message any) error {
	body, err := json.Marshal(message)
	if err != nil {
		return fmt.Errorf("queue: encode message: %w", err)
	}
	if _, err := s.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.url), MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("queue: send message: %w", err)
	}
	return nil
}

// SendDelayed puts message, encoded as JSON, on the queue, invisible for
// delay: whole seconds, at most MaxDelay (longer delays are cut to it).
func (s *Sender) SendDelayed(ctx context.Context, message any, delay time.Duration) error {
	body, err := json.Marshal(message)
	if err != nil {
		return fmt.Errorf("queue: encode message: %w", err)
	}
	seconds := int32(min(max(delay, 0), MaxDelay) / time.Second)
	if _, err := s.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.url), MessageBody: aws.String(string(body)), DelaySeconds: seconds}); err != nil {
		return fmt.Errorf("queue: send delayed message: %w", err)
	}
	return nil
}

// BatchError reports the messages of a SendBatch that SQS did not take.
type BatchError struct {
	// Failed holds the indexes (into SendBatch's messages) that failed.
	Failed []int
	// Reasons are SQS's reasons, one per failed message.
	Reasons []string
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("queue: %d messages not sent: %s", len(e.Failed), strings.Join(e.Reasons, "; "))
}

// SendBatch puts messages on the queue, each encoded as JSON, in calls of
// up to MaxBatch. When SQS refuses some entries the others are still sent
// and the error is a *BatchError naming the refused ones; a failed call is
// returned as it is, after the batches before it were sent.
func (s *Sender) SendBatch(ctx context.Context, messages []any) error {
	var failed BatchError
	for start := 0; start < len(messages); start += MaxBatch {
		end := min(start+MaxBatch, len(messages))
		entries := make([]types.SendMessageBatchRequestEntry, 0, end-start)
		for i := start; i < end; i++ {
			body, err := json.Marshal(messages[i])
			if err != nil {
				return fmt.Errorf("queue: encode message %d: %w", i, err)
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))})
		}
		out, err := s.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.url), Entries: entries})
		if err != nil {
			return fmt.Errorf("queue: send batch at message %d: %w", start, err)
		}
		for _, f := range out.Failed {
			i, err := strconv.Atoi(aws.ToString(f.Id))
			if err != nil {
				return fmt.Errorf("queue: send batch: unknown entry id %q in the answer", aws.ToString(f.Id))
			}
			failed.Failed = append(failed.Failed, i)
			failed.Reasons = append(failed.Reasons, aws.ToString(f.Code)+": "+aws.ToString(f.Message))
		}
	}
	if len(failed.Failed) > 0 {
		return &failed
	}
	return nil
}
