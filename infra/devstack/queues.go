package devstack

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rekey/rekey/shared/queue"
)

// queueLog records which tasks' messages each in-process poller handed to
// its worker, by the queue's logical id in template.yaml: the local
// runner's answer to "which queue did this task go through?" (on AWS, the
// queues' CloudWatch metrics), and what the tests check routing by.
type queueLog struct {
	mu    sync.Mutex
	tasks map[string][]string // logical id -> task ids, in order of first message
}

// wrap returns h, recording the task of every message it is given.
func (l *queueLog) wrap(logicalID string, h queue.Handler) queue.Handler {
	return func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
		for _, m := range event.Records {
			var body struct {
				TaskID string `json:"taskId"`
			}
			if json.Unmarshal([]byte(m.Body), &body) == nil && body.TaskID != "" {
				l.add(logicalID, body.TaskID)
			}
		}
		return h(ctx, event)
	}
}

func (l *queueLog) add(logicalID, taskID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tasks == nil {
		l.tasks = map[string][]string{}
	}
	if !slices.Contains(l.tasks[logicalID], taskID) {
		l.tasks[logicalID] = append(l.tasks[logicalID], taskID)
	}
}

// TasksSeenOn returns the ids of the tasks whose messages the pollers of
// the queue with this logical id (e.g. "BulkPasswordQueue") handled.
func (s *Stack) TasksSeenOn(logicalID string) []string {
	s.queues.mu.Lock()
	defer s.queues.mu.Unlock()
	return slices.Clone(s.queues.tasks[logicalID])
}
