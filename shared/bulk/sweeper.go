package bulk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rekey/rekey/shared/rekey"
)

// SweepGrace is how long a chunk the Sweeper put back on the work queue is
// left alone before a later sweep may put it back again: time for a worker
// to take the message and the chunk's lease, even behind a backlog. A
// second message for the same chunk would do no harm (the worker acts only
// on the chunk item), it would only cost a read.
const SweepGrace = 5 * time.Minute

// sweepBatch is the most stale chunks one sweep puts back.
const sweepBatch = 100

// SweeperDeps are the Sweeper's collaborators.
type SweeperDeps struct {
	Store sweepStore
	// Work is the work queue.
	Work Queue
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
}

// Sweeper puts back on the work queue the chunks whose worker died while
// holding them, run every minute (an EventBridge rule; the local runner's
// ticker).
//
// Why a sweeper and not a visibility heartbeat: a worker that dies after
// voiding a chunk's passwords but before sending their links leaves those
// users locked out until the chunk's message comes back, and the work
// queue's visibility timeout must be at least 6 × the worker's 300 s
// timeout (SECURITY.md 16), so that is 30 minutes. Renewing the message's
// visibility (ChangeMessageVisibility) would shorten the gap only with a
// short queue visibility timeout, hence a short function timeout, too short
// for a chunk of SES-paced sends. Instead the chunk's own lease in
// DynamoDB is short (Config.Lease) and renewed by its worker while it
// works; a lease that ran out means a dead worker, and the Sweeper finds
// those chunks through a sparse index of leased chunks — without scanning
// the table — and sends their message again. The queue's timeouts stay as
// they are. Resuming is what a redelivered message does anyway: the worker
// acts on the chunk item (idempotent per task and user, SECURITY.md 17),
// so the original message coming back later finds the chunk done, and a
// user whose email SES took before the crash was recorded gets at most one
// more, with only the newest link working (SECURITY.md 18).
type Sweeper struct {
	store sweepStore
	work  Queue
	log   *slog.Logger
}

// NewSweeper returns a Sweeper.
func NewSweeper(deps SweeperDeps) (*Sweeper, error) {
	if deps.Store == nil || deps.Work == nil {
		return nil, errors.New("bulk: the sweeper needs a Store and the work queue")
	}
	s := &Sweeper{store: deps.Store, work: deps.Work, log: deps.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Handle is the sweeper's EventBridge handler: it sweeps at the event's
// time (now when the event has none).
func (s *Sweeper) Handle(ctx context.Context, event events.CloudWatchEvent) error {
	at := event.Time
	if at.IsZero() {
		at = time.Now()
	}
	requeued, err := s.Sweep(ctx, at)
	s.log.InfoContext(ctx, "bulk: swept stale chunks", "eventId", event.ID, "at", at, "requeued", requeued, "failed", err != nil)
	return err
}

// Sweep puts back on the work queue each chunk whose lease ended at or
// before now, claiming it first so that a concurrent or later sweep does
// not send it twice within SweepGrace. It returns how many it put back; it
// carries on past a chunk that fails, and returns the errors joined (the
// next sweep tries them again once their claim's grace has passed).
func (s *Sweeper) Sweep(ctx context.Context, now time.Time) (int, error) {
	stale, err := s.store.StaleChunks(ctx, now, sweepBatch)
	if err != nil {
		return 0, fmt.Errorf("bulk: sweep: %w", err)
	}
	creators := map[string]string{}               // task id → creator id
	deliveries := map[string]rekey.DeliveryMode{} // task id → delivery, to route the message
	var errs []error
	requeued := 0
	for _, c := range stale {
		creator, ok := creators[c.TaskID]
		if !ok {
			rec, err := s.store.GetTask(ctx, c.TaskID)
			if rekey.ErrorCode(err) == rekey.ECodeNotFound {
				// The task expired before its chunk: nothing to resume.
				s.log.WarnContext(ctx, "bulk: stale chunk of a task that is gone", "task", c.TaskID, "chunk", c.Index)
				_ = s.store.ClaimStaleChunk(ctx, c, now, now.Add(rekey.ResultRetention))
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("bulk: sweep chunk %d of task %s: %w", c.Index, c.TaskID, err))
				continue
			}
			creator = rec.Task.CreatedBy
			creators[c.TaskID] = creator
			deliveries[c.TaskID] = rec.Task.Delivery.Mode
		}
		err := s.store.ClaimStaleChunk(ctx, c, now, now.Add(SweepGrace))
		if rekey.ErrorCode(err) == rekey.ECodeConflict {
			continue // its worker renewed the lease, finished, or another sweep claimed it
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("bulk: sweep chunk %d of task %s: %w", c.Index, c.TaskID, err))
			continue
		}
		msg := Message{Kind: KindChunk, TaskID: c.TaskID, InitiatorID: creator, Chunk: c.Index, UserIDs: c.UserIDs, Delivery: deliveries[c.TaskID]}
		if err := s.work.Send(ctx, msg); err != nil {
			errs = append(errs, fmt.Errorf("bulk: sweep chunk %d of task %s: requeue: %w", c.Index, c.TaskID, err))
			continue
		}
		s.log.WarnContext(ctx, "bulk: chunk's worker died holding it; put it back on the work queue",
			"task", c.TaskID, "chunk", c.Index, "leaseEnded", c.LeaseUntil)
		requeued++
	}
	return requeued, errors.Join(errs...)
}
