package rekey

// The jobs of the mail queue and the outbox record of each email sent for
// one (SECURITY.md 17, 18). The reset service (shared/resets) and the bulk
// workers put jobs on the queue, the mail worker (shared/mailworker) sends
// them, and the stores keep the outbox: so the types live in the domain.

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// JobKind names a job on the mail queue.
type JobKind string

// The mail jobs.
const (
	// JobResetLink: email the link of reset ResetID to user UserID (admin
	// link resets, resends; the forgot job also ends in one).
	JobResetLink JobKind = "reset_link"
	// JobForgot: a forgot-password request for Login. The worker looks the
	// account up, so the API answers the same for every login.
	JobForgot JobKind = "forgot"
	// JobPasswordChanged: tell user UserID their password was changed.
	JobPasswordChanged JobKind = "password_changed"
	// JobTeacherBulkNotice: tell the school admins UserIDs (or UserID)
	// that teacher ActorID started bulk task TaskID reaching Count
	// students.
	JobTeacherBulkNotice JobKind = "teacher_bulk_notice"
	// JobSSONotice: tell user UserID (or users UserIDs) of a bulk email-link
	// task that their school signs them in with its own single sign-on,
	// instead of emailing them a reset link (the forgot-password flow's
	// sso_notice).
	JobSSONotice JobKind = "sso_notice"
	// JobTaskFinished: tell user UserID, the creator of bulk task TaskID,
	// that it finished, with Summary.
	JobTaskFinished JobKind = "task_finished"
)

// TaskSummary is what a task_finished job tells a task's creator: the task
// as it ended. The job carries it, so that the mail worker reads no task.
type TaskSummary struct {
	Name      string       `json:"name"`
	Status    TaskStatus   `json:"status"`
	Delivery  DeliveryMode `json:"delivery"`
	Total     int          `json:"total"`
	Succeeded int          `json:"succeeded"`
	NoEmail   int          `json:"noEmail"`
	Failed    int          `json:"failed"`
	Skipped   int          `json:"skipped"`
}

// SummaryOf is t as a task_finished job tells it.
func SummaryOf(t Task) *TaskSummary {
	return &TaskSummary{Name: t.Name, Status: t.Status, Delivery: t.Delivery.Mode, Total: t.Total,
		Succeeded: t.Succeeded, NoEmail: t.NoEmail, Failed: t.Failed, Skipped: t.Skipped}
}

// MailJob is one message on the mail queue, as JSON. It never carries a
// token or a password: the worker makes the token when it sends the email.
//
// ID is the business action the job belongs to and, with Kind, its
// idempotency key (Key): a redriven or duplicated message has a new SQS
// message id but the same key, so it sends no second email.
//
//	{"kind":"reset_link","id":"<resetId>","userId":"…","resetId":"<resetId>","expiresAt":"…"}
//	{"kind":"forgot","id":"<requestId>","login":"jo.doe","requestedAt":"…"}
//	{"kind":"password_changed","id":"<userId>#v<version>","userId":"…","changedAt":"…"}
//	{"kind":"password_changed","id":"bulk#<taskId>","userIds":["…","…"],"changedAt":"…"}
//
// A password_changed job may name many users (UserIDs, at most
// MaxJobUsers) instead of one: a bulk task's notices, so that a 100,000-user
// task puts thousands, not 100,000, messages on the queue. Each user of
// such a job is still its own email with its own outbox record, keyed by
// Split: "password_changed#bulk#<taskId>#<userId>", the task#user#action
// business key (SECURITY.md 17), so that a chunk enqueued twice sends each
// user one notice.
type MailJob struct {
	Kind        JobKind   `json:"kind"`
	ID          string    `json:"id"`
	UserID      string    `json:"userId,omitempty"`
	UserIDs     []string  `json:"userIds,omitempty"`
	ResetID     string    `json:"resetId,omitempty"`
	ExpiresAt   time.Time `json:"expiresAt,omitzero"`
	Login       string    `json:"login,omitempty"`
	RequestedAt time.Time `json:"requestedAt,omitzero"`
	ChangedAt   time.Time `json:"changedAt,omitzero"`
	RequestID   string    `json:"requestId,omitempty"`
	// TaskID, ActorID and Count describe a teacher's bulk reset
	// (teacher_bulk_notice).
	TaskID  string `json:"taskId,omitempty"`
	ActorID string `json:"actorId,omitempty"`
	Count   int    `json:"count,omitempty"`
	// Summary is the finished task (task_finished).
	Summary *TaskSummary `json:"summary,omitempty"`
}

// Key is the job's idempotency key, "<kind>#<id>": one email at most is sent
// per key.
func (j MailJob) Key() string { return string(j.Kind) + "#" + j.ID }

// LogValue keeps the login, which is personal data, out of logs.
func (j MailJob) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", string(j.Kind)), slog.String("id", j.ID), slog.String("user", j.UserID))
}

// Validate reports whether the job has what its kind needs.
func (j MailJob) Validate() error {
	if j.ID == "" {
		return errors.New("resets: mail job without id")
	}
	switch j.Kind {
	case JobResetLink:
		if j.UserID == "" || j.ResetID == "" {
			return fmt.Errorf("resets: %s job %s needs userId and resetId", j.Kind, j.ID)
		}
	case JobForgot:
		if j.Login == "" || j.RequestedAt.IsZero() {
			return fmt.Errorf("resets: %s job %s needs login and requestedAt", j.Kind, j.ID)
		}
	case JobTaskFinished:
		if j.UserID == "" || j.TaskID == "" || j.Summary == nil {
			return fmt.Errorf("resets: %s job %s needs userId, taskId and summary", j.Kind, j.ID)
		}
	case JobTeacherBulkNotice:
		if j.TaskID == "" || j.ActorID == "" || j.Count <= 0 {
			return fmt.Errorf("resets: %s job %s needs taskId, actorId and count", j.Kind, j.ID)
		}
		fallthrough
	case JobPasswordChanged, JobSSONotice:
		if (j.UserID == "") == (len(j.UserIDs) == 0) {
			return fmt.Errorf("resets: %s job %s needs userId or userIds, not both", j.Kind, j.ID)
		}
		if len(j.UserIDs) > MaxJobUsers {
			return fmt.Errorf("resets: %s job %s names %d users, more than %d", j.Kind, j.ID, len(j.UserIDs), MaxJobUsers)
		}
		if slices.Contains(j.UserIDs, "") {
			return fmt.Errorf("resets: %s job %s names an empty user id", j.Kind, j.ID)
		}
	default:
		return fmt.Errorf("resets: unknown mail job kind %q", j.Kind)
	}
	return nil
}

// MaxJobUsers is the most users one password_changed job names: few enough
// that the mail worker sends them well within one invocation.
const MaxJobUsers = 10

// Split returns the one-user jobs of a job that names many users (UserIDs),
// each with its own id "<job id>#<user id>" and so its own outbox key; a
// one-user job is returned as it is.
func (j MailJob) Split() []MailJob {
	if len(j.UserIDs) == 0 {
		return []MailJob{j}
	}
	out := make([]MailJob, len(j.UserIDs))
	for i, id := range j.UserIDs {
		one := j
		one.ID, one.UserID, one.UserIDs = j.ID+"#"+id, id, nil
		out[i] = one
	}
	return out
}

// DeliveryState is where one email stands (SECURITY.md 18).
type DeliveryState string

// MailDelivery states. PENDING → SENDING → SENT; SKIPPED when the job turned
// out to have nothing to send; a failed send goes back to PENDING with
// LastError, so that the next attempt may claim it.
const (
	DeliveryPending DeliveryState = "PENDING"
	DeliverySending DeliveryState = "SENDING"
	DeliverySent    DeliveryState = "SENT"
	DeliverySkipped DeliveryState = "SKIPPED"
)

// Finished reports whether no further attempt may send for this delivery.
func (s DeliveryState) Finished() bool { return s == DeliverySent || s == DeliverySkipped }

// MailDelivery is the outbox record of one mail job, keyed by MailJob.Key. A
// sender claims it (SENDING, with ClaimID and a lease) before sending and
// records the outcome under the same ClaimID.
type MailDelivery struct {
	Key        string
	Kind       JobKind
	State      DeliveryState
	Attempts   int // claims so far, this one included
	ClaimID    string
	LeaseUntil time.Time
	MessageID  string // the SES message id, once SENT
	LastError  string // why the last attempt failed
	Reason     string // why it was SKIPPED
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// CheckOutcome reports whether d is an outcome a store may record for its
// claim: a claim id, and SENT, SKIPPED or (a failed send) PENDING again.
func (d MailDelivery) CheckOutcome() error {
	switch {
	case d.State != DeliverySent && d.State != DeliverySkipped && d.State != DeliveryPending:
		return fmt.Errorf("delivery %s: state %q is not an outcome", d.Key, d.State)
	case d.ClaimID == "":
		return fmt.Errorf("delivery %s: no claim", d.Key)
	}
	return nil
}

// Errors of claiming a delivery.
var (
	// ErrDeliveryFinished: the email was already sent (or skipped); a
	// duplicate or redriven job must not send again.
	ErrDeliveryFinished = errors.New("resets: delivery already finished")
	// ErrDeliveryBusy: another sender holds a live claim; try later.
	ErrDeliveryBusy = errors.New("resets: delivery claimed by another sender")
)
