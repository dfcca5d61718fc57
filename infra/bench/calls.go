package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// benchCalls runs a bulk reset of users students end to end on moto for
// each delivery and reports the AWS calls it took per 1,000 users: every
// call of this process (the service, the planner, two workers, and the
// pollers standing in for Lambda's SQS event sources), SES apart. The
// password deliveries' calls include queuing the password-changed notices
// on the mail queue, but not the mail worker's sending them.
func benchCalls(ctx context.Context, l *localAWS, users int) error {
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
	}
	return nil
}
