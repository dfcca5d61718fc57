package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rekey/rekey/shared/rekey"
)

// benchCalls runs a bulk reset of users students end to end on moto for
// each delivery and reports the AWS calls it took per 1,000 users: every
// call of this process (the service, the planner, two workers, and the
// pollers standing in for Lambda's SQS event sources), SES apart. The
// password deliveries' calls include queuing the password-changed notices
// on the mail queue, but not the mail worker's sending them.
func benchCalls(ctx context.Context, l *localAWS, users int, m *measured) error {
	for _, del := range []rekey.Delivery{
		{Mode: rekey.DeliverEmailLink},
		{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "purple otters juggle quietly"},
		{Mode: rekey.DeliverGeneratedPasswords},
	} {
		p, err := newPipeline(ctx, l, users, 2)
		if err != nil {
			return err
		}
		l.calls.Reset()
		l.writes.Reset()
		task, elapsed, err := p.run(ctx, del)
		if err != nil {
			return err
		}
		if task.Processed != users || task.Succeeded != users {
			return fmt.Errorf("%s: task %+v, want %d users done", del.Mode, task, users)
		}
		if del.Mode != rekey.DeliverEmailLink && task.Notified != users {
			return fmt.Errorf("%s: %d notices queued, want %d", del.Mode, task.Notified, users)
		}
		per1000 := func(n int) float64 { return float64(n) * 1000 / float64(users) }
		bench("non_ses_calls_per_1000_users_"+string(del.Mode), per1000(l.calls.Total("SESv2")), "calls")
		if del.Mode == rekey.DeliverEmailLink {
			bench("ses_sendemail_per_1000_users_email_link", per1000(l.calls.Of("SESv2.SendEmail")), "calls")
		}
		note("%s, %d users on moto in %v: %s", del.Mode, users, elapsed.Round(time.Millisecond), l.calls)
		if del.Mode == rekey.DeliverEmailLink {
			if err := benchCachedTaskRead(ctx, l, p, task.ID); err != nil {
				return err
			}
		}
		// The email links' write units include each email's MSG#<id>
		// lookup, written in the chunk's transactions with its result.
		if err := benchWriteUnits(ctx, l, users, del.Mode, m); err != nil {
			return err
		}
		if del.Mode == rekey.DeliverEmailLink {
			if err := benchMailEvents(ctx, p, task.ID, users); err != nil {
				return err
			}
		}
	}
	return nil
}

// benchCachedTaskRead reports the calls of the console's next poll of the
// task just run (GET /api/tasks/{id} within the funnel's freshness
// window): the run's own read worked the funnel out and remembered it
// (those calls are in the per-1,000 figures), so this one reads the task
// item only.
func benchCachedTaskRead(ctx context.Context, l *localAWS, p *pipeline, taskID string) error {
	l.calls.Reset()
	got, err := p.svc.Get(ctx, p.admin, taskID)
	if err != nil {
		return err
	}
	if got.Funnel == nil {
		return fmt.Errorf("task %s read without its funnel", taskID)
	}
	bench("task_read_calls_cached", l.calls.Total("SESv2"), "calls")
	note("a second read of the task within the funnel's window: %s", l.calls)
	return nil
}

// benchWriteUnits prices the DynamoDB writes of the run just made from the
// real item sizes (see writeUnits) and reports them per user: what the
// table's write throughput must sustain for the AWS model.
func benchWriteUnits(ctx context.Context, l *localAWS, users int, mode rekey.DeliveryMode, m *measured) error {
	u, err := l.writes.Units(ctx, dynamodb.NewFromConfig(l.cfg))
	if err != nil {
		return err
	}
	perUser := (u.table + u.index) / float64(users)
	bench("dynamodb_write_units_per_user_"+string(mode), perUser, "WRU")
	m.writeUnitsPerUser[mode] = perUser
	bench("dynamodb_task_partition_write_units_per_user_"+string(mode), u.taskPartition/float64(users), "WRU")
	m.taskPartitionUnitsPerUser[mode] = u.taskPartition / float64(users)
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(u.bySort)) {
		kinds = append(kinds, fmt.Sprintf("%s %.2f", k, u.bySort[k]/float64(users)))
	}
	note("%s: %d writes (%d in transactions), %.0f table + %.0f GSI write units, largest item %.1f KiB; per user by item kind: %v",
		mode, u.writes, u.transactional, u.table, u.index, u.largestItemKiB, kinds)
	return nil
}
