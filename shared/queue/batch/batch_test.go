package batch

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

// fakeRequeuer keeps what is put back; while fail is set it refuses.
type fakeRequeuer struct {
	fail   bool
	bodies []string
	delays []time.Duration
}

func (r *fakeRequeuer) SendDelayed(_ context.Context, message any, delay time.Duration) error {
	if r.fail {
		return errors.New("queue unavailable")
	}
	body, err := json.Marshal(message)
	if err != nil {
		return err
	}
	r.bodies = append(r.bodies, string(body))
	r.delays = append(r.delays, delay)
	return nil
}

// outcome is what the test handler returns for a message body.
var outcome = map[string]error{
	`{"ok":1}`:      nil,
	`{"ok":2}`:      nil,
	`{"fail":1}`:    errors.New("store unavailable"),
	`{"fail":2}`:    errors.New("timeout"),
	`{"bad":1}`:     Drop(errors.New("malformed")),
	`{"busy":1}`:    Later(90*time.Second, errors.New("held by another worker")),
	`{"wrapped":1}`: errors.Join(errors.New("context"), Later(time.Minute, errors.New("busy"))),
}

func TestHandle(t *testing.T) {
	for _, test := range []struct {
		name       string
		bodies     []string
		noRequeue  bool
		requeueErr bool
		want       []string // failed message ids
		putBack    []string
		delays     []time.Duration
	}{
		{name: "empty batch"},
		{name: "all handled", bodies: []string{`{"ok":1}`, `{"ok":2}`}},
		{name: "some fail", bodies: []string{`{"ok":1}`, `{"fail":1}`, `{"ok":2}`, `{"fail":2}`}, want: []string{"m1", "m3"}},
		{name: "all fail", bodies: []string{`{"fail":1}`, `{"fail":2}`}, want: []string{"m0", "m1"}},
		{name: "dropped counts as handled", bodies: []string{`{"bad":1}`, `{"fail":1}`}, want: []string{"m1"}},
		{name: "later is put back and handled", bodies: []string{`{"busy":1}`, `{"ok":1}`},
			putBack: []string{`{"busy":1}`}, delays: []time.Duration{90 * time.Second}},
		{name: "later found inside a wrapped error", bodies: []string{`{"wrapped":1}`},
			putBack: []string{`{"wrapped":1}`}, delays: []time.Duration{time.Minute}},
		{name: "later without a queue fails", bodies: []string{`{"busy":1}`, `{"ok":1}`}, noRequeue: true, want: []string{"m0"}},
		{name: "later that cannot be sent fails", bodies: []string{`{"ok":1}`, `{"busy":1}`}, requeueErr: true, want: []string{"m1"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			var event events.SQSEvent
			for i, body := range test.bodies {
				event.Records = append(event.Records, events.SQSMessage{MessageId: "m" + string(rune('0'+i)), Body: body})
			}
			requeue := &fakeRequeuer{fail: test.requeueErr}
			opt := Options{Name: "test", Requeue: requeue}
			if test.noRequeue {
				opt.Requeue = nil
			}
			var seen []string
			resp := Handle(context.Background(), event, opt, func(_ context.Context, m events.SQSMessage) error {
				seen = append(seen, m.Body)
				return outcome[m.Body]
			})
			var got []string
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("failed ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(test.bodies, seen); diff != "" {
				t.Errorf("messages handled (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(test.putBack, requeue.bodies); diff != "" {
				t.Errorf("put back (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(test.delays, requeue.delays); diff != "" {
				t.Errorf("delays (-want +got):\n%s", diff)
			}
		})
	}
}
