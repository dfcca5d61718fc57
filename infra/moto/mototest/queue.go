package mototest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/rekey/rekey/shared/rekey"
)

// Queue is an SQS queue that NewQueue created, with its dead-letter queue.
type Queue struct {
	URL, ARN string
	// DeadLetterURL is the queue a message moves to after maxReceives
	// receives.
	DeadLetterURL string
}

// NewQueue creates a queue unique to the call, named after kind, with a
// dead-letter queue that takes a message after maxReceives receives (as
// template.yaml's worker queues have) and a visibility timeout of 180
// seconds, which no test waits out. Tests share one moto, so each queue is
// new.
func NewQueue(t testing.TB, client *sqs.Client, kind string, maxReceives int) Queue {
	t.Helper()
	ctx := context.Background()
	name := kind + "-" + rekey.NewID()
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("mototest: create queue %s-dlq: %v", name, err)
	}
	dlqURL := aws.ToString(dlq.QueueUrl)
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": "180",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, queueARN(t, client, dlqURL), maxReceives),
	}})
	if err != nil {
		t.Fatalf("mototest: create queue %s: %v", name, err)
	}
	url := aws.ToString(q.QueueUrl)
	return Queue{URL: url, ARN: queueARN(t, client, url), DeadLetterURL: dlqURL}
}

func queueARN(t testing.TB, client *sqs.Client, url string) string {
	t.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("mototest: queue ARN of %s: %v", url, err)
	}
	return out.Attributes["QueueArn"]
}

// VerifySender makes address an SES identity that may send. Tests of one
// package share moto, so an identity an earlier test made is fine.
func VerifySender(t testing.TB, client *sesv2.Client, address string) {
	t.Helper()
	var exists *sestypes.AlreadyExistsException
	if _, err := client.CreateEmailIdentity(context.Background(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(address)}); err != nil && !errors.As(err, &exists) {
		t.Fatalf("mototest: CreateEmailIdentity(%s): %v", address, err)
	}
}
