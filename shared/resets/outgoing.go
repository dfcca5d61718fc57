package resets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
)

// Outgoing is what one mail job sends: the email Kind to User, or nothing
// when Kind is empty (Skip says why). Token is the raw reset token for the
// link messages; it exists only here, on its way into the email, and
// LogValue hides it.
type Outgoing struct {
	Kind      mail.Kind
	Skip      string
	User      rekey.User
	Token     string
	ExpiresAt time.Time    // link messages: when the link stops working
	School    rekey.School // the SSO notice: the school and its sign-in URL
	ChangedAt time.Time    // the password-changed notice
	// Actor, Count and TaskID: the teacher, the students reached and the
	// task of a teacher's bulk notice.
	Actor  rekey.User
	Count  int
	TaskID string
	// Summary is the finished task (task finished).
	Summary *rekey.TaskSummary
}

// LogValue keeps the token, the email address and the password hashes out
// of logs.
func (o Outgoing) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("message", string(o.Kind)),
		slog.String("skip", o.Skip),
		slog.String("user", o.User.ID),
	)
}

// skip is an Outgoing that sends nothing, for reason.
func skip(reason string) Outgoing { return Outgoing{Skip: reason} }

// PrepareMail decides what mail job sends, for the mail worker, at the
// moment it is about to send. For a link it makes the token: 256 bits from
// crypto/rand, of which only the SHA-256 is stored, and which replaces any
// token emailed before for the same reset, so that if a crash between
// sending and recording makes the worker send again, only the newest link
// works. A job whose reset was superseded or has expired, or whose user can
// no longer use it, sends nothing. Errors are transient (the job should be
// retried) or an invalid job.
func (s *Service) PrepareMail(ctx context.Context, job rekey.MailJob) (Outgoing, error) {
	if err := job.Validate(); err != nil {
		return Outgoing{}, err
	}
	switch job.Kind {
	case rekey.JobResetLink:
		return s.issueLink(ctx, job.UserID, job.ResetID)
	case rekey.JobForgot:
		return s.prepareForgot(ctx, job)
	case rekey.JobPasswordChanged:
		return s.preparePasswordChanged(ctx, job)
	case rekey.JobTeacherBulkNotice:
		return s.prepareTeacherBulkNotice(ctx, job)
	case rekey.JobSSONotice:
		return s.prepareBulkSSONotice(ctx, job)
	case rekey.JobTaskFinished:
		return s.prepareTaskFinished(ctx, job)
	default:
		return Outgoing{}, fmt.Errorf("resets: unknown mail job kind %q", job.Kind)
	}
}

// issueLink makes a token for reset resetID of user userID, if that reset is
// still the user's pending one and usable, and stores its hash on the user
// (voiding the token emailed before for the same reset). A concurrent change
// of the user is retried with the user as it is then.
func (s *Service) issueLink(ctx context.Context, userID, resetID string) (Outgoing, error) {
	for attempt := 1; ; attempt++ {
		out, err := s.issueLinkOnce(ctx, userID, resetID)
		if errors.Is(err, rekey.ErrVersionConflict) && attempt < maxVersionRetries {
			continue
		}
		if err != nil {
			return Outgoing{}, fmt.Errorf("resets: record token: %w", err)
		}
		return out, nil
	}
}

func (s *Service) issueLinkOnce(ctx context.Context, userID, resetID string) (Outgoing, error) {
	user, err := s.store.GetUser(ctx, userID)
	if isNotFound(err) {
		return skip("user deleted"), nil
	}
	if err != nil {
		return Outgoing{}, fmt.Errorf("read user: %w", err)
	}
	r, ok := resetByID(user, resetID)
	switch {
	case !ok && len(pendingResets(user)) == 0:
		return skip("no pending reset"), nil
	case !ok:
		return skip("superseded by a newer reset"), nil
	}
	if why := voidedFor(r, user, s.now()); why != "" {
		return skip(why), nil
	}

	raw, hash := NewToken(user.ID)
	after := withTokenHash(user, r, hash)
	after.Version = user.Version + 1
	if err := s.store.SaveReset(ctx, user, after, nil); err != nil {
		return Outgoing{}, err
	}
	return Outgoing{Kind: linkMessage(r.Purpose), User: after, Token: raw, ExpiresAt: r.ExpiresAt}, nil
}

// linkMessage is the email that carries the link of a reset of purpose p.
func linkMessage(p Purpose) mail.Kind {
	if p == PurposeSelfService {
		return mail.KindForgotLink
	}
	return mail.KindResetLink
}

// preparePasswordChanged addresses the password-changed notice to the user
// as they are now; a job without a time (a bulk task's) tells the time of
// the user's last password change.
func (s *Service) preparePasswordChanged(ctx context.Context, job rekey.MailJob) (Outgoing, error) {
	user, err := s.store.GetUser(ctx, job.UserID)
	if isNotFound(err) {
		return skip("user deleted"), nil
	}
	if err != nil {
		return Outgoing{}, fmt.Errorf("resets: read user: %w", err)
	}
	if user.Email == "" {
		return skip("no email address"), nil
	}
	changedAt := job.ChangedAt
	if changedAt.IsZero() {
		changedAt = user.PasswordChangedAt
	}
	return Outgoing{Kind: mail.KindPasswordChanged, User: user, ChangedAt: changedAt}, nil
}

// prepareTeacherBulkNotice tells school admin job.UserID, if they can still
// be reached and still run the teacher's school, about the teacher's bulk
// reset.
func (s *Service) prepareTeacherBulkNotice(ctx context.Context, job rekey.MailJob) (Outgoing, error) {
	admin, err := s.store.GetUser(ctx, job.UserID)
	if isNotFound(err) {
		return skip("admin deleted"), nil
	}
	if err != nil {
		return Outgoing{}, fmt.Errorf("resets: read admin: %w", err)
	}
	teacher, err := s.store.GetUser(ctx, job.ActorID)
	if isNotFound(err) {
		return skip("teacher deleted"), nil
	}
	if err != nil {
		return Outgoing{}, fmt.Errorf("resets: read teacher: %w", err)
	}
	switch {
	case admin.Email == "":
		return skip("no email address"), nil
	case admin.Status == rekey.StatusDisabled:
		return skip("account disabled"), nil
	case admin.Role != rekey.RoleSchoolAdmin || admin.SchoolID == "" || admin.SchoolID != teacher.SchoolID:
		return skip("no longer an admin of the teacher's school"), nil
	}
	school, err := s.store.GetSchool(ctx, teacher.SchoolID)
	if err != nil && !isNotFound(err) {
		return Outgoing{}, fmt.Errorf("resets: read school: %w", err)
	}
	return Outgoing{Kind: mail.KindTeacherBulkNotice, User: admin, Actor: teacher, School: school, Count: job.Count, TaskID: job.TaskID}, nil
}

// prepareBulkSSONotice addresses the SSO notice of a bulk email-link task
// to user job.UserID, if their school still signs in with SSO and they can
// be reached: the forgot-password flow's email, with the school's sign-in
// address.
func (s *Service) prepareBulkSSONotice(ctx context.Context, job rekey.MailJob) (Outgoing, error) {
	user, err := s.store.GetUser(ctx, job.UserID)
	if isNotFound(err) {
		return skip("user deleted"), nil
	}
	if err != nil {
		return Outgoing{}, fmt.Errorf("resets: read user: %w", err)
	}
	switch {
	case user.Email == "":
		return skip("no email address"), nil
	case user.Status == rekey.StatusDisabled:
		return skip("account disabled"), nil
	case user.SchoolID == "":
		return skip("no school"), nil
	}
	school, err := s.store.GetSchool(ctx, user.SchoolID)
	if isNotFound(err) || err == nil && !school.SSO {
		return skip("the school no longer signs in with SSO"), nil
	}
	if err != nil {
		return Outgoing{}, fmt.Errorf("resets: read school: %w", err)
	}
	return Outgoing{Kind: mail.KindSSONotice, User: user, School: school}, nil
}

// prepareTaskFinished addresses the "your task finished" email to the
// task's creator, job.UserID, as they are now; a creator who cannot be
// reached is skipped (and the mail worker logs why).
func (s *Service) prepareTaskFinished(ctx context.Context, job rekey.MailJob) (Outgoing, error) {
	creator, err := s.store.GetUser(ctx, job.UserID)
	if isNotFound(err) {
		return skip("creator deleted"), nil
	}
	if err != nil {
		return Outgoing{}, fmt.Errorf("resets: read the task's creator: %w", err)
	}
	switch {
	case creator.Email == "":
		return skip("no email address"), nil
	case creator.Status == rekey.StatusDisabled:
		return skip("account disabled"), nil
	}
	return Outgoing{Kind: mail.KindTaskFinished, User: creator, TaskID: job.TaskID, Summary: job.Summary}, nil
}
