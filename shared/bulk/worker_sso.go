package bulk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// The results of users at schools that sign in with their own single
// sign-on (rekey.School.SSO). Their Rekey password is not what they sign
// in with, so a bulk task never changes it: voiding it would change
// nothing for them but a reset link that leads nowhere useful, and a
// default or generated password would be printed on a login letter for an
// account they do not use. They end skipped (API.md has no state for them)
// with one of these reasons, counted like every skipped user.
const (
	// ssoNoticeSent: an email-link task sent them the forgot-password
	// flow's SSO notice ("go to your school sign-in") instead of a link.
	ssoNoticeSent = "SSO school: sign-in notice sent; the password was not changed"
	// ssoNoEmail: the same, for a user with no address to send it to.
	ssoNoEmail = "SSO school: no email address for the sign-in notice; the password was not changed"
	// ssoNotSet: a default or generated password task leaves them alone.
	ssoNotSet = "SSO school: signs in with the school's own sign-in; the password was not changed"
)

// schoolCacheTTL is how long a worker trusts what it read of a school's
// sign-in: a chunk of 96 users costs no school read of its own, and a
// school switched to SSO while a task runs is honoured within a minute.
const schoolCacheTTL = time.Minute

// ssoCache is what a worker last read of schools' sign-in, by school id.
type ssoCache struct {
	mu      sync.Mutex
	schools map[string]ssoRead
}

type ssoRead struct {
	sso bool
	at  time.Time
}

// schoolSSO reports whether school id signs in with its own SSO (a missing
// school does not), from the worker's cache when it is fresh.
func (w *Worker) schoolSSO(ctx context.Context, id string) (bool, error) {
	now := w.now()
	w.sso.mu.Lock()
	read, ok := w.sso.schools[id]
	w.sso.mu.Unlock()
	if ok && now.Sub(read.at) < schoolCacheTTL && !now.Before(read.at) {
		return read.sso, nil
	}
	school, err := w.store.GetSchool(ctx, id)
	switch {
	case err == nil:
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		school = rekey.School{}
	default:
		return false, fmt.Errorf("read school %s: %w", id, err)
	}
	w.sso.mu.Lock()
	if w.sso.schools == nil {
		w.sso.schools = map[string]ssoRead{}
	}
	w.sso.schools[id] = ssoRead{sso: school.SSO, at: now}
	w.sso.mu.Unlock()
	return school.SSO, nil
}

// settleSSO settles the pending users whose school signs in with SSO, as
// the dry run (Preview) says it will: an email-link task queues their SSO
// notices on the mail queue (one outbox record per task and user, so a
// chunk seen twice sends each user one notice) and then marks them
// skipped; a password task marks them skipped. The entries are written
// with the chunk's next write. A user an earlier run already prepared (their
// school turned SSO since) is left to finish as prepared users do, since
// their password is already void. Schools are read through the worker's
// cache (schoolSSO).
func (r *chunkRun) settleSSO(ctx context.Context) error {
	sso := map[string]bool{} // school id → signs in with SSO
	var notify []int
	for _, i := range r.pending() {
		e := &r.chunk.Entries[i]
		u := r.users[e.Result.UserID]
		if e.Prepared || u.SchoolID == "" {
			continue
		}
		isSSO, known := sso[u.SchoolID]
		if !known {
			var err error
			if isSSO, err = r.w.schoolSSO(ctx, u.SchoolID); err != nil {
				return err
			}
			sso[u.SchoolID] = isSSO
		}
		switch {
		case !isSSO:
		case r.task.Task.Delivery.Mode != rekey.DeliverEmailLink:
			e.Finish(rekey.OutcomeSkipped, ssoNotSet)
		case u.Email == "":
			e.Finish(rekey.OutcomeSkipped, ssoNoEmail)
		default:
			notify = append(notify, i)
		}
	}
	if len(notify) == 0 {
		return nil
	}
	if r.w.notices == nil {
		return errors.New("bulk: no mail queue configured for SSO notices")
	}
	ids := make([]string, len(notify))
	for n, i := range notify {
		ids[n] = r.chunk.Entries[i].Result.UserID
	}
	jobs := resets.BulkSSONoticeJobs(r.task.Task.ID, ids, r.task.RequestID)
	messages := make([]any, len(jobs))
	for n, job := range jobs {
		messages[n] = job
	}
	if err := r.w.notices.SendBatch(ctx, messages); err != nil {
		return fmt.Errorf("queue SSO notices: %w", err)
	}
	for _, i := range notify {
		r.chunk.Entries[i].Finish(rekey.OutcomeSkipped, ssoNoticeSent)
	}
	return nil
}
