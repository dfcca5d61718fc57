package mototest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestNewQueue: two calls make distinct queues, each sending its messages
// to its own dead-letter queue after the receives asked for.
func TestNewQueue(t *testing.T) {
	client := sqs.NewFromConfig(Config(t))
	first, second := NewQueue(t, client, "work", 5), NewQueue(t, client, "work", 3)
	if first.URL == second.URL || first.DeadLetterURL == second.DeadLetterURL {
		t.Errorf("NewQueue() twice = %+v and %+v, want distinct queues", first, second)
	}
	for _, test := range []struct {
		q           Queue
		maxReceives string
	}{{first, "5"}, {second, "3"}} {
		out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(test.q.URL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatalf("GetQueueAttributes(%s): %v", test.q.URL, err)
		}
		var redrive struct {
			Target      string `json:"deadLetterTargetArn"`
			MaxReceives any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &redrive); err != nil {
			t.Fatalf("RedrivePolicy %q: %v", out.Attributes["RedrivePolicy"], err)
		}
		if got := out.Attributes["QueueArn"]; got != test.q.ARN {
			t.Errorf("queue ARN = %q, want %q", got, test.q.ARN)
		}
		// moto answers maxReceiveCount as a number or a string.
		if want := queueARN(t, client, test.q.DeadLetterURL); redrive.Target != want || fmt.Sprint(redrive.MaxReceives) != test.maxReceives {
			t.Errorf("RedrivePolicy = %+v, want %s after %s receives", redrive, want, test.maxReceives)
		}
	}
}

// TestVerifySender: a sender verified twice (as two tests of a package do)
// is one identity, and the second call does not fail the test.
func TestVerifySender(t *testing.T) {
	client := sesv2.NewFromConfig(Config(t))
	VerifySender(t, client, "sender@mototest.example.org")
	VerifySender(t, client, "sender@mototest.example.org")
	out, err := client.GetEmailIdentity(context.Background(), &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("sender@mototest.example.org")})
	if err != nil {
		t.Fatalf("GetEmailIdentity: %v", err)
	}
	if out.VerificationStatus != sestypes.VerificationStatusSuccess {
		t.Errorf("GetEmailIdentity().VerificationStatus = %q, want %q", out.VerificationStatus, sestypes.VerificationStatusSuccess)
	}
}
