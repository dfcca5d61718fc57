// Package bulk runs bulk password resets as background tasks (PRODUCT.md
// "Bulk resets", SECURITY.md 15–25): the Service that validates, records
// and queues a task and serves the task centre, the Planner that expands a
// task's selection into chunks, and the Worker that resets each chunk's
// users and sends their email.
//
// The pipeline:
//
//	POST /api/bulk-resets ─ Service.Start: validate, put the task (queued),
//	                        one plan message ──────────────▶ plan queue
//	Planner (plan queue):  reload the creator, page through the selection
//	                        inside the creator's scope, write chunks of up
//	                        to ChunkSize users and one message per chunk ──▶ work queue
//	Worker (work queue):   per chunk, one read of the chunk, the task, its
//	                        key, the creator and the users; per user the
//	                        creator's current permissions; transactions
//	                        of up to 48 users reset them with their audit
//	                        entries; emails paced to the SES rate; every
//	                        chunk write adds what it settled to the task.
//	Sweeper (every minute): chunks whose worker died holding them (its
//	                        30 s lease, renewed while it works, ran out)
//	                        ───────────────────────────────────────────▶ work queue
//
// A worker that dies after voiding a chunk's passwords and before sending
// the links would leave those users locked out until the work queue's
// visibility timeout (30 minutes, 6 × the worker's timeout) brought the
// message back; the Sweeper resumes the chunk within about a minute
// instead, without shortening the queue's timeouts (see Sweeper).
//
// Every piece of state is keyed by business identity, never by SQS message
// id (SECURITY.md 17): a chunk is TASK#<task>/CHUNK#<n>, and its entry for
// a user is the (task, user) record of what was done to them — prepared,
// sent with the SES message id, attempts, outcome. A duplicated or redriven
// message finds that record and does not redo what it says is done, so no
// user gets two emails for one task unless a worker dies between handing an
// email to SES and recording it (SECURITY.md 18); the retry then sends one
// more with a new token, and only that newest link works.
//
// Counters are exact and not a hot key: each chunk write adds the users it
// settled to the task's counters in the same transaction, on the condition
// that the chunk is still at the version the worker read, so progress
// shows while a chunk is worked on and nothing is counted twice. A task
// is finished when it is fully planned
// and processed equals total; its status and finishedAt are derived from
// the counters when it is read, so finishing costs no write.
package bulk

import (
	"encoding/json"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// MaxSelectedUsers bounds selection.userIds.
const MaxSelectedUsers = 1000

// MaxSendAttempts is how many times one user's email is tried before the
// user's outcome is failed with SES's reason (throttling does not count):
// the first try and three retries, as the mail queue's maxReceiveCount
// (template.yaml) gives single-user reset emails.
const MaxSendAttempts = 4

// Message is one message on the plan or work queue, as JSON:
//
//	{"kind":"plan","taskId":"…","initiatorId":"…"}
//	{"kind":"chunk","taskId":"…","initiatorId":"…","chunk":12,"userIds":["…",…]}
//
// A chunk message carries its users' ids only so that the worker can read
// the chunk and its users in one call; the chunk item is what counts.
type Message struct {
	Kind        string   `json:"kind"`
	TaskID      string   `json:"taskId"`
	InitiatorID string   `json:"initiatorId"`
	Chunk       int      `json:"chunk,omitempty"`
	UserIDs     []string `json:"userIds,omitempty"`
	// Delivery routes a chunk to its queue (see WorkQueues); the worker
	// goes by the task's delivery, never by this.
	Delivery rekey.DeliveryMode `json:"delivery,omitempty"`
}

// Message kinds.
const (
	KindPlan  = "plan"
	KindChunk = "chunk"
)

// decodeMessage reads a queue message's body as a Message of kind. A body
// that is not one never gets better: the planner, the worker and the
// dead-letter consumer drop it.
func decodeMessage(body, kind string) (Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return Message{}, err
	}
	if m.Kind != kind || !rekey.ValidID(m.TaskID) || !rekey.ValidID(m.InitiatorID) || m.Chunk < 0 {
		return Message{}, fmt.Errorf("bulk: not a %s message: %+v", kind, m)
	}
	return m, nil
}

// taskResetID is the reset id a task's email links carry, so that a worker
// can tell its own pending reset from a newer one.
func taskResetID(taskID string) string { return "task-" + taskID }
