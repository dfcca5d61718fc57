package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/rekey"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// testQueues is a queue with a dead-letter queue after 3 receives, like the
// mail queue of the template.
type testQueues struct {
	client        *sqs.Client
	url, arn, dlq string
}

func newTestQueues(t *testing.T) testQueues {
	t.Helper()
	ctx := context.Background()
	client := sqs.NewFromConfig(mototest.Config(t))
	name := "q-" + rekey.NewID()
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("create DLQ: %v", err)
	}
	dlqAttrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	redrive := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"3"}`, dlqAttrs.Attributes["QueueArn"])
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"RedrivePolicy": redrive, "VisibilityTimeout": "30",
	}})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
		_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: dlq.QueueUrl})
	})
	return testQueues{client: client, url: aws.ToString(q.QueueUrl), arn: attrs.Attributes["QueueArn"], dlq: aws.ToString(dlq.QueueUrl)}
}

// drain receives every message now on url without deleting it.
func drain(t *testing.T, client *sqs.Client, url string) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
	}
}

type job struct {
	N int `json:"n"`
}

func TestSenderSendsJSON(t *testing.T) {
	ctx := context.Background()
	q := newTestQueues(t)
	s := NewSender(q.client, q.url)
	if err := s.Send(ctx, job{N: 0}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var batch []any
	for i := 1; i <= 12; i++ {
		batch = append(batch, job{N: i})
	}
	if err := s.SendBatch(ctx, batch); err != nil {
		t.Fatalf("SendBatch(12): %v", err)
	}
	bodies := drain(t, q.client, q.url)
	slices.Sort(bodies)
	var want []string
	for i := 0; i <= 12; i++ {
		want = append(want, fmt.Sprintf(`{"n":%d}`, i))
	}
	slices.Sort(want)
	if !slices.Equal(bodies, want) {
		t.Errorf("queue holds %v, want %v", bodies, want)
	}
	if err := s.Send(ctx, func() {}); err == nil {
		t.Error("Send(a func) succeeded, want an encoding error")
	}
}

// partialSQS refuses the batch entries whose body contains "refuse".
type partialSQS struct{ calls int }

func (p *partialSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}

func (p *partialSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	p.calls++
	if len(in.Entries) > MaxBatch {
		return nil, errors.New("too many entries")
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if strings.Contains(aws.ToString(e.MessageBody), "refuse") {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
		}
	}
	return out, nil
}

func TestSendBatchReportsRefusedEntries(t *testing.T) {
	api := &partialSQS{}
	messages := make([]any, 25)
	for i := range messages {
		messages[i] = map[string]any{"n": i}
	}
	messages[3] = "refuse me"
	messages[21] = "refuse me too"
	err := NewSender(api, "url").SendBatch(context.Background(), messages)
	var batchErr *BatchError
	if !errors.As(err, &batchErr) || !slices.Equal(batchErr.Failed, []int{3, 21}) {
		t.Fatalf("SendBatch = %v, want a BatchError for 3 and 21", err)
	}
	if api.calls != 3 {
		t.Errorf("SendBatch(25) made %d calls, want 3", api.calls)
	}
}

// recordingHandler fails the messages whose body says so and records every
// event it got.
type recordingHandler struct {
	events []events.SQSEvent
	failAs func(body string) bool
	err    error
}

func (h *recordingHandler) handle(_ context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
	h.events = append(h.events, e)
	if h.err != nil {
		return events.SQSEventResponse{}, h.err
	}
	var resp events.SQSEventResponse
	for _, m := range e.Records {
		if h.failAs(m.Body) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func TestPollerSettlesLikeLambda(t *testing.T) {
	ctx := context.Background()
	q := newTestQueues(t)
	s := NewSender(q.client, q.url)
	if err := s.SendBatch(ctx, []any{job{1}, job{2}, job{3}}); err != nil {
		t.Fatal(err)
	}
	h := &recordingHandler{failAs: func(body string) bool { return body == `{"n":2}` }}
	p := NewPoller(q.client, q.url, q.arn, "us-east-1", h.handle)
	p.WaitTime, p.FailedVisibility = 0, time.Nanosecond

	n, err := p.PollOnce(ctx)
	if err != nil || n != 3 {
		t.Fatalf("PollOnce = %d, %v; want 3 messages", n, err)
	}
	first := h.events[0].Records[0]
	if first.EventSource != "aws:sqs" || first.EventSourceARN != q.arn || first.AWSRegion != "us-east-1" ||
		first.Attributes["ApproximateReceiveCount"] != "1" || first.ReceiptHandle == "" || first.MessageId == "" {
		t.Errorf("event record = %+v, want a Lambda-shaped SQS record with ApproximateReceiveCount 1", first)
	}

	// Only the failed message comes back, at once, received a second time.
	n, err = p.PollOnce(ctx)
	if err != nil || n != 1 {
		t.Fatalf("second PollOnce = %d, %v; want the 1 failed message", n, err)
	}
	again := h.events[1].Records[0]
	if again.Body != `{"n":2}` || again.Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("retried record = %q (receive count %s), want {\"n\":2} received twice", again.Body, again.Attributes["ApproximateReceiveCount"])
	}
}

func TestPollerDeadLettersAfterThreeFailures(t *testing.T) {
	ctx := context.Background()
	q := newTestQueues(t)
	if err := NewSender(q.client, q.url).Send(ctx, job{7}); err != nil {
		t.Fatal(err)
	}
	h := &recordingHandler{failAs: func(string) bool { return true }}
	p := NewPoller(q.client, q.url, q.arn, "us-east-1", h.handle)
	p.WaitTime, p.FailedVisibility = 0, time.Nanosecond
	for i := 1; i <= 4; i++ {
		n, err := p.PollOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if i == 4 {
			want = 0
		}
		if n != want {
			t.Errorf("poll %d received %d messages, want %d", i, n, want)
		}
	}
	if dead := drain(t, q.client, q.dlq); !slices.Equal(dead, []string{`{"n":7}`}) {
		t.Errorf("dead-letter queue holds %v, want the message", dead)
	}
}

func TestPollerRetriesWholeBatchOnError(t *testing.T) {
	ctx := context.Background()
	for _, test := range []struct {
		name    string
		handler Handler
	}{
		{"error", (&recordingHandler{err: errors.New("boom")}).handle},
		{"unknown failure id", func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "not-in-batch"}}}, nil
		}},
		{"panic", func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) { panic("worker crashed") }},
	} {
		t.Run(test.name, func(t *testing.T) {
			q := newTestQueues(t)
			if err := NewSender(q.client, q.url).SendBatch(ctx, []any{job{1}, job{2}}); err != nil {
				t.Fatal(err)
			}
			p := NewPoller(q.client, q.url, q.arn, "us-east-1", test.handler)
			p.WaitTime, p.FailedVisibility = 0, time.Nanosecond
			if _, err := p.PollOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if left := drain(t, q.client, q.url); len(left) != 2 {
				t.Errorf("after a failed batch the queue holds %v, want both messages", left)
			}
		})
	}
}

func TestPollerRunStopsWithContext(t *testing.T) {
	q := newTestQueues(t)
	handled := make(chan string, 1)
	p := NewPoller(q.client, q.url, q.arn, "us-east-1", func(_ context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
		for _, m := range e.Records {
			handled <- m.Body
		}
		return events.SQSEventResponse{}, nil
	})
	p.WaitTime = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if err := NewSender(q.client, q.url).Send(context.Background(), job{9}); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-handled:
		var j job
		if err := json.Unmarshal([]byte(body), &j); err != nil || j.N != 9 {
			t.Errorf("handled %q, want job 9", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not deliver the message within 5 s")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not stop after the context ended")
	}
}

// TestPollerReleasesMessagesOnShutdown: the runner stops while the handler
// has a batch in hand. What the handler settled is deleted; what it did
// not is visible again at once (not after the queue's 30 s visibility
// timeout), whatever FailedVisibility says, so a restart resumes it.
func TestPollerReleasesMessagesOnShutdown(t *testing.T) {
	for _, test := range []struct {
		name             string
		failedVisibility time.Duration
		handlerErr       error
		want             []string
	}{
		{"as Lambda", 0, nil, []string{`{"n":2}`}},
		{"as the local runner", 2 * time.Second, nil, []string{`{"n":2}`}},
		{"handler error", 0, errors.New("stopped"), []string{`{"n":1}`, `{"n":2}`}},
	} {
		t.Run(test.name, func(t *testing.T) {
			q := newTestQueues(t)
			if err := NewSender(q.client, q.url).SendBatch(context.Background(), []any{job{1}, job{2}}); err != nil {
				t.Fatal(err)
			}
			inHand := make(chan struct{})
			p := NewPoller(q.client, q.url, q.arn, "us-east-1", func(ctx context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
				close(inHand)
				<-ctx.Done() // the runner stops mid-batch
				var resp events.SQSEventResponse
				for _, m := range e.Records {
					if m.Body != `{"n":1}` {
						resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
					}
				}
				return resp, test.handlerErr
			})
			p.WaitTime, p.FailedVisibility = time.Second, test.failedVisibility
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			select {
			case <-inHand:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler got no batch within 5 s")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run = %v", err)
			}
			got := drain(t, q.client, q.url)
			slices.Sort(got)
			if !slices.Equal(got, test.want) {
				t.Errorf("right after shutdown the queue shows %v, want %v", got, test.want)
			}
		})
	}
}

// recordingSQS keeps the SendMessage calls.
type recordingSQS struct {
	partialSQS
	sent []*sqs.SendMessageInput
}

func (r *recordingSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	r.sent = append(r.sent, in)
	return &sqs.SendMessageOutput{}, nil
}

func TestSendDelayedHoldsWholeSecondsUpToMaxDelay(t *testing.T) {
	for _, test := range []struct {
		delay time.Duration
		want  int32
	}{
		{0, 0},
		{-time.Minute, 0},
		{1500 * time.Millisecond, 1},
		{90 * time.Second, 90},
		{MaxDelay, 900},
		{time.Hour, 900},
	} {
		api := &recordingSQS{}
		if err := NewSender(api, "https://queue.example/q").SendDelayed(context.Background(), job{N: 7}, test.delay); err != nil {
			t.Fatalf("SendDelayed(%v): %v", test.delay, err)
		}
		if len(api.sent) != 1 {
			t.Fatalf("SendDelayed(%v) made %d calls, want 1", test.delay, len(api.sent))
		}
		in := api.sent[0]
		if in.DelaySeconds != test.want || aws.ToString(in.MessageBody) != `{"n":7}` || aws.ToString(in.QueueUrl) != "https://queue.example/q" {
			t.Errorf("SendDelayed(%v) sent %d s %q to %q, want %d s {\"n\":7}", test.delay, in.DelaySeconds, aws.ToString(in.MessageBody), aws.ToString(in.QueueUrl), test.want)
		}
	}
	if err := NewSender(&recordingSQS{}, "q").SendDelayed(context.Background(), func() {}, time.Second); err == nil {
		t.Error("SendDelayed(a func) succeeded, want an encoding error")
	}
}
