package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rekey/rekey/shared/mailevents"
	"github.com/rekey/rekey/shared/rekey"
)

// benchMailEvents feeds SES's event for each email the email-link task
// taskID sent (first a delivery, then the same delivery again, as
// EventBridge may repeat one, then a bounce after it) through the real
// mail-events handler on moto, and reports the AWS calls each took per
// email: what SES events add per user to the task's own calls.
func benchMailEvents(ctx context.Context, p *pipeline, taskID string, users int) error {
	var ids []string
	for from := 0; ; {
		chunks, err := p.store.ListChunks(ctx, taskID, from, 100)
		if err != nil {
			return err
		}
		for _, c := range chunks {
			for _, e := range c.Entries {
				if e.MessageID != "" {
					ids = append(ids, e.MessageID)
				}
			}
			from = c.Index + 1
		}
		if len(chunks) < 100 {
			break
		}
	}
	if len(ids) != users {
		return fmt.Errorf("mail events: %d message ids recorded, want %d", len(ids), users)
	}
	h := mailevents.NewHandler(p.store, nil)
	at := time.Now().UTC()
	for _, step := range []struct{ name, eventType, detail string }{
		{"delivered", "Delivery", `"delivery":{"timestamp":%q}`},
		{"repeated_delivered", "Delivery", `"delivery":{"timestamp":%q}`},
		{"bounced_after_delivered", "Bounce", `"bounce":{"bounceType":"Permanent","bounceSubType":"General","timestamp":%q}`},
	} {
		p.aws.calls.Reset()
		for _, id := range ids {
			detail := fmt.Sprintf(`{"eventType":%q,"mail":{"messageId":%q,"timestamp":%q},`+step.detail+`}`,
				step.eventType, id, at.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
			ev := events.CloudWatchEvent{Source: "aws.ses", DetailType: "Email " + step.eventType, Detail: json.RawMessage(detail)}
			if err := h.Handle(ctx, ev); err != nil {
				return fmt.Errorf("mail events: %s of %s: %w", step.name, id, err)
			}
		}
		bench("mail_event_calls_per_user_"+step.name, float64(p.aws.calls.Total())/float64(len(ids)), "calls")
		note("mail events, %s, %d emails: %s", step.name, len(ids), p.aws.calls)
	}
	states, err := p.store.MailStates(ctx, ids)
	if err != nil {
		return err
	}
	if n := countState(states, rekey.StateBounced); n != len(ids) {
		return fmt.Errorf("mail events: %d of %d emails bounced, want all", n, len(ids))
	}
	return nil
}

func countState(states map[string]string, want string) (n int) {
	for _, s := range states {
		if s == want {
			n++
		}
	}
	return n
}
