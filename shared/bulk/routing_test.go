package bulk

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

// namedQueue records the tasks of what is sent to it.
type namedQueue struct{ got []string }

func (q *namedQueue) record(message any) {
	b, _ := json.Marshal(message)
	if raw, ok := message.(json.RawMessage); ok {
		b = raw
	}
	var m Message
	_ = json.Unmarshal(b, &m)
	q.got = append(q.got, m.TaskID)
}
func (q *namedQueue) Send(_ context.Context, message any) error { q.record(message); return nil }
func (q *namedQueue) SendDelayed(_ context.Context, message any, _ time.Duration) error {
	q.record(message)
	return nil
}
func (q *namedQueue) SendBatch(_ context.Context, messages []any) error {
	for _, m := range messages {
		q.record(m)
	}
	return nil
}

func TestWorkQueuesRouteByDelivery(t *testing.T) {
	chunk := func(task string, mode rekey.DeliveryMode) Message {
		return Message{Kind: KindChunk, TaskID: task, InitiatorID: "i", Delivery: mode}
	}
	raw := func(m Message) json.RawMessage { b, _ := json.Marshal(m); return b }
	for _, test := range []struct {
		name                string
		send                func(context.Context, *WorkQueues) error
		wantEmail, wantPass []string
	}{
		{"default password", func(ctx context.Context, q *WorkQueues) error {
			return q.Send(ctx, chunk("d", rekey.DeliverDefaultPassword))
		}, nil, []string{"d"}},
		{"generated passwords, delayed", func(ctx context.Context, q *WorkQueues) error {
			return q.SendDelayed(ctx, chunk("g", rekey.DeliverGeneratedPasswords), time.Second)
		}, nil, []string{"g"}},
		{"email link", func(ctx context.Context, q *WorkQueues) error {
			return q.Send(ctx, chunk("e", rekey.DeliverEmailLink))
		}, []string{"e"}, nil},
		{"a message without a delivery goes to the email queue", func(ctx context.Context, q *WorkQueues) error {
			return q.Send(ctx, chunk("old", ""))
		}, []string{"old"}, nil},
		{"a body put back unchanged keeps its queue", func(ctx context.Context, q *WorkQueues) error {
			if err := q.SendDelayed(ctx, raw(chunk("d", rekey.DeliverDefaultPassword)), time.Second); err != nil {
				return err
			}
			return q.SendDelayed(ctx, raw(chunk("e", rekey.DeliverEmailLink)), time.Second)
		}, []string{"e"}, []string{"d"}},
		{"a batch is split by delivery, order kept", func(ctx context.Context, q *WorkQueues) error {
			return q.SendBatch(ctx, []any{chunk("d1", rekey.DeliverDefaultPassword), chunk("e1", rekey.DeliverEmailLink),
				&Message{TaskID: "g1", Delivery: rekey.DeliverGeneratedPasswords}, chunk("d2", rekey.DeliverDefaultPassword)})
		}, []string{"e1"}, []string{"d1", "g1", "d2"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			email, passwords := &namedQueue{}, &namedQueue{}
			q, err := NewWorkQueues(email, passwords)
			if err != nil {
				t.Fatal(err)
			}
			if err := test.send(context.Background(), q); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(test.wantEmail, email.got); diff != "" {
				t.Errorf("email queue (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(test.wantPass, passwords.got); diff != "" {
				t.Errorf("password queue (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("without a password queue everything goes to the email queue", func(t *testing.T) {
		email := &namedQueue{}
		q, _ := NewWorkQueues(email, nil)
		if err := q.SendBatch(context.Background(), []any{chunk("d", rekey.DeliverDefaultPassword), chunk("e", rekey.DeliverEmailLink)}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"d", "e"}, email.got); diff != "" {
			t.Errorf("email queue (-want +got):\n%s", diff)
		}
	})
	t.Run("no email queue is an error", func(t *testing.T) {
		if _, err := NewWorkQueues(nil, &namedQueue{}); err == nil {
			t.Error("NewWorkQueues(nil, q) = nil error, want one")
		}
	})
}

// staleStore holds one stale chunk of each of two tasks.
type staleStore struct{ tasks map[string]rekey.TaskRecord }

func (s staleStore) StaleChunks(context.Context, time.Time, int) ([]rekey.Chunk, error) {
	return []rekey.Chunk{{TaskID: "pw", Index: 3, UserIDs: []string{"u1"}}, {TaskID: "mail", Index: 1, UserIDs: []string{"u2"}}}, nil
}
func (staleStore) ClaimStaleChunk(context.Context, rekey.Chunk, time.Time, time.Time) error {
	return nil
}
func (s staleStore) GetTask(_ context.Context, id string) (rekey.TaskRecord, error) {
	return s.tasks[id], nil
}

// TestSweeperRoutesByDelivery: a chunk whose worker died goes back to the
// queue of its task's delivery, so a password chunk is not resumed at the
// email path's SES-bound concurrency.
func TestSweeperRoutesByDelivery(t *testing.T) {
	task := func(id string, mode rekey.DeliveryMode) rekey.TaskRecord {
		return rekey.TaskRecord{Task: rekey.Task{ID: id, CreatedBy: "admin", Delivery: rekey.Delivery{Mode: mode}}}
	}
	store := staleStore{tasks: map[string]rekey.TaskRecord{"pw": task("pw", rekey.DeliverGeneratedPasswords), "mail": task("mail", rekey.DeliverEmailLink)}}
	email, passwords := &namedQueue{}, &namedQueue{}
	work, _ := NewWorkQueues(email, passwords)
	s, err := NewSweeper(SweeperDeps{Store: store, Work: work})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(context.Background(), time.Now()); n != 2 || err != nil {
		t.Fatalf("Sweep = %d, %v; want 2, nil", n, err)
	}
	if diff := cmp.Diff([]string{"pw"}, passwords.got); diff != "" {
		t.Errorf("password queue (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"mail"}, email.got); diff != "" {
		t.Errorf("email queue (-want +got):\n%s", diff)
	}
}
