package bulk

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/rekey/rekey/shared/queue"
)

// SQSQueue is a DelayedQueue on one SQS queue: queue.Sender's sends, plus
// sending with a delay (which queue.Sender does not offer).
type SQSQueue struct {
	*queue.Sender
	client queue.SendAPI
	url    string
}

// NewSQSQueue returns an SQSQueue for the queue at queueURL.
func NewSQSQueue(client queue.SendAPI, queueURL string) *SQSQueue {
	return &SQSQueue{Sender: queue.NewSender(client, queueURL), client: client, url: queueURL}
}

// SendDelayed puts message, as JSON, on the queue, invisible for delay
// (whole seconds, at most 15 minutes).
func (q *SQSQueue) SendDelayed(ctx context.Context, message any, delay time.Duration) error {
	body, err := json.Marshal(message)
	if err != nil {
		return fmt.Errorf("bulk: encode message: %w", err)
	}
	seconds := int32(min(max(delay, 0), maxQueueDelay) / time.Second)
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(string(body)), DelaySeconds: seconds}); err != nil {
		return fmt.Errorf("bulk: send delayed message: %w", err)
	}
	return nil
}
