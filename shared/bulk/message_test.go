package bulk

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecodeMessage: the planner, the worker and the dead-letter consumer
// take a body only as a well-formed message of their kind; anything else is
// an error (they drop it).
func TestDecodeMessage(t *testing.T) {
	for _, test := range []struct {
		name, body, kind string
		want             Message
		wantErr          bool
	}{
		{"plan", `{"kind":"plan","taskId":"t1","initiatorId":"u1"}`, KindPlan, Message{Kind: KindPlan, TaskID: "t1", InitiatorID: "u1"}, false},
		{"chunk", `{"kind":"chunk","taskId":"t1","initiatorId":"u1","chunk":2,"userIds":["a"]}`, KindChunk,
			Message{Kind: KindChunk, TaskID: "t1", InitiatorID: "u1", Chunk: 2, UserIDs: []string{"a"}}, false},
		{"not JSON", `chunk`, KindChunk, Message{}, true},
		{"another kind", `{"kind":"plan","taskId":"t1","initiatorId":"u1"}`, KindChunk, Message{}, true},
		{"no task", `{"kind":"chunk","initiatorId":"u1"}`, KindChunk, Message{}, true},
		{"a bad initiator", `{"kind":"chunk","taskId":"t1","initiatorId":"u 1"}`, KindChunk, Message{}, true},
		{"a negative chunk", `{"kind":"chunk","taskId":"t1","initiatorId":"u1","chunk":-1}`, KindChunk, Message{}, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, err := decodeMessage(test.body, test.kind)
			if (err != nil) != test.wantErr {
				t.Fatalf("decodeMessage(%s, %s) error = %v, want error %t", test.body, test.kind, err, test.wantErr)
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("decodeMessage(%s, %s) mismatch (-want +got):\n%s", test.body, test.kind, diff)
			}
		})
	}
}
