package resets

import (
	"context"
	"slices"
	"strconv"

	"github.com/rekey/rekey/shared/rekey"
)

// PasswordChanged queues the "your password was changed" notice for user,
// as it is after the change, when they have an email address (SECURITY.md
// 13); a user without one is no error. The job's id is the user id and the
// record version, one per change, so a repeated call sends one notice.
// It makes the Service an auth.Notifier.
func (s *Service) PasswordChanged(ctx context.Context, user rekey.User, requestID string) error {
	if user.Email == "" {
		return nil
	}
	changedAt := user.PasswordChangedAt
	if changedAt.IsZero() {
		changedAt = s.now()
	}
	return s.enqueue(ctx, rekey.MailJob{
		Kind:      rekey.JobPasswordChanged,
		ID:        user.ID + "#v" + strconv.Itoa(user.Version),
		UserID:    user.ID,
		ChangedAt: changedAt,
		RequestID: requestID,
	})
}

// notifyChanged is PasswordChanged for a change that is already stored: a
// failure to queue the notice is logged, since the change stands.
func (s *Service) notifyChanged(ctx context.Context, user rekey.User, requestID string) {
	if err := s.PasswordChanged(ctx, user, requestID); err != nil {
		s.log.ErrorContext(ctx, "resets: queue password-changed notice", "user", user.ID, "error", err)
	}
}

// BulkPasswordChangedJobs are the "your password was changed" notices of
// bulk task taskID for userIDs (who must have an email address): jobs of
// at most MaxJobUsers users each. Every user's outbox key is
// "password_changed#bulk#<taskId>#<userId>" (MailJob.Split), whichever job
// carries them, so that queuing a chunk's notices again after a crash
// sends nobody a second notice for the same task. The jobs carry no time:
// the worker tells the time the user's record gives.
func BulkPasswordChangedJobs(taskID string, userIDs []string, requestID string) []rekey.MailJob {
	var jobs []rekey.MailJob
	for ids := range slices.Chunk(userIDs, rekey.MaxJobUsers) {
		jobs = append(jobs, rekey.MailJob{Kind: rekey.JobPasswordChanged, ID: "bulk#" + taskID, UserIDs: slices.Clone(ids), RequestID: requestID})
	}
	return jobs
}

// BulkSSONoticeJobs are the SSO notices of bulk email-link task taskID for
// userIDs, users at schools that sign in with their own single sign-on
// (who must have an email address): jobs of at most MaxJobUsers users
// each, every user with the outbox key "sso_notice#bulk#<taskId>#<userId>"
// (MailJob.Split), so that queuing a chunk's notices again sends nobody a
// second one for the same task.
func BulkSSONoticeJobs(taskID string, userIDs []string, requestID string) []rekey.MailJob {
	var jobs []rekey.MailJob
	for ids := range slices.Chunk(userIDs, rekey.MaxJobUsers) {
		jobs = append(jobs, rekey.MailJob{Kind: rekey.JobSSONotice, ID: "bulk#" + taskID, UserIDs: slices.Clone(ids), RequestID: requestID})
	}
	return jobs
}
