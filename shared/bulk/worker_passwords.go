package bulk

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/rekey/rekey/shared/bulk/envelope"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// maxUserRounds bounds how often a chunk write is retried for users who
// changed under it (a sign-in rehash, an edit) before they are failed.
const maxUserRounds = 3

// setPasswords runs the default_password and generated_passwords
// deliveries: every pending user gets an argon2id hash with their own salt
// of the default password (which must also pass the policy against their
// own names) or of a newly generated one, must change it at next sign-in,
// loses every session and any pending link. The password is never emailed;
// every user with an email address is sent the "your password was
// changed" notice through the mail queue (SECURITY.md 13). The users,
// their audit entries and the chunk's results (generated passwords sealed
// with the task's key) are written MaxUsersPerWrite users at a time, each
// group in one transaction. A worker that stops between groups leaves the
// first one done and recorded, and the next delivery of the message does
// the rest. Then the notices are queued and the chunk completes, adding
// its counts to the task (see notifyAndComplete).
func (r *chunkRun) setPasswords(ctx context.Context) error {
	if r.w.notices == nil {
		return errors.New("bulk: no mail queue configured for password deliveries")
	}
	if len(r.pending()) == 0 {
		return r.notifyAndComplete(ctx)
	}
	key, defaultPassword, why, err := r.openSecrets(ctx)
	if err != nil {
		return err
	}
	if why != "" {
		r.finishPending(rekey.OutcomeFailed, why)
		return r.notifyAndComplete(ctx)
	}
	for len(r.pending()) > 0 {
		pending := r.pending()
		group := pending[:min(len(pending), rekey.MaxUsersPerWrite)]
		// The last group's counts wait for the completion, so that the
		// task shows completed only once its notices are queued.
		r.hold = len(group) == len(pending)
		if err := r.setGroup(ctx, group, key, defaultPassword, false); err != nil {
			return err
		}
	}
	return r.notifyAndComplete(ctx)
}

// notifyAndComplete queues the password-changed notices of the chunk's
// users whose password was set, who have an email address and whose
// notice is not yet recorded as queued, in one SQS call for the whole
// chunk (ten users a message, ten messages a call), then marks them
// notified and completes the chunk in one write. Queuing comes after the
// passwords are stored, so no notice announces a change that failed; a
// worker that stops between queuing and completing queues the same
// notices again on the next delivery, and the mail worker sends each user
// one notice per task all the same, because the outbox key is the task and
// the user (resets.BulkPasswordChangedJobs).
func (r *chunkRun) notifyAndComplete(ctx context.Context) error {
	var ids []string
	var entries []*rekey.ChunkEntry
	for i := range r.chunk.Entries {
		e := &r.chunk.Entries[i]
		if e.Result.Outcome == rekey.OutcomePasswordSet && e.Result.Email != "" && !e.Result.Notified {
			ids = append(ids, e.Result.UserID)
			entries = append(entries, e)
		}
	}
	if len(ids) > 0 {
		jobs := resets.BulkPasswordChangedJobs(r.task.Task.ID, ids, r.task.RequestID)
		messages := make([]any, len(jobs))
		for i, job := range jobs {
			messages[i] = job
		}
		if err := r.w.notices.SendBatch(ctx, messages); err != nil {
			return fmt.Errorf("queue password-changed notices: %w", err)
		}
		for _, e := range entries {
			e.Result.Notified = true
		}
	}
	return r.complete(ctx)
}

// setGroup sets the passwords of the entries of group and saves them (and,
// when complete is set, the chunk's completion). Users who changed since
// they were read are read again and redone, up to maxUserRounds times.
func (r *chunkRun) setGroup(ctx context.Context, group []int, key envelope.Key, defaultPassword string, complete bool) error {
	generated := r.task.Task.Delivery.Mode == rekey.DeliverGeneratedPasswords
	writes := map[string]rekey.UserWrite{} // by user id, for entries set in this run
	for round := 1; ; round++ {
		var todo []int
		for _, i := range group {
			e := r.chunk.Entries[i]
			if _, done := writes[e.Result.UserID]; !done && !e.Final() {
				todo = append(todo, i)
			}
		}
		if err := r.hashAll(todo, key, defaultPassword, generated, writes); err != nil {
			return err
		}
		users := make([]rekey.UserWrite, 0, len(writes))
		for _, i := range group {
			e := r.chunk.Entries[i]
			if w, ok := writes[e.Result.UserID]; ok && e.Result.Outcome == rekey.OutcomePasswordSet {
				users = append(users, w)
			}
		}
		err := r.save(ctx, users, complete)
		var conflict *rekey.ChunkConflictError
		if !errors.As(err, &conflict) || len(conflict.Users) == 0 {
			if err != nil {
				return fmt.Errorf("save passwords: %w", err)
			}
			return nil
		}
		// Some users changed since they were read: read them again and
		// redo only them.
		for _, i := range group {
			e := &r.chunk.Entries[i]
			if slices.Contains(conflict.Users, e.Result.UserID) {
				delete(writes, e.Result.UserID)
				e.Result.Outcome, e.Result.Error, e.Result.Attempts, e.SealedPassword = "", "", 0, nil
			}
		}
		if err := r.reread(ctx, conflict.Users); err != nil {
			return err
		}
		if round == maxUserRounds {
			for _, i := range group {
				if e := &r.chunk.Entries[i]; !e.Final() {
					e.Finish(rekey.OutcomeFailed, "the user's record kept changing while being reset; reset them again")
				}
			}
		}
	}
}

// openSecrets opens the task's key and, for default_password, the default
// password. why is set instead when they can no longer be used (expired).
func (r *chunkRun) openSecrets(ctx context.Context) (key envelope.Key, defaultPassword, why string, err error) {
	if r.w.keys == nil {
		return envelope.Key{}, "", "", errors.New("bulk: no key service configured for password deliveries")
	}
	if len(r.secrets.SealedKey) == 0 || !r.w.now().Before(r.secrets.ExpiresAt) {
		return envelope.Key{}, "", "the task's key expired before this user was reached", nil
	}
	key, err = r.w.keys.OpenKey(ctx, r.task.Task.ID, r.secrets.SealedKey)
	if err != nil {
		return envelope.Key{}, "", "", fmt.Errorf("open task key: %w", err)
	}
	if r.task.Task.Delivery.Mode == rekey.DeliverDefaultPassword {
		plain, err := key.Open(r.secrets.SealedDefaultPassword, defaultPasswordBinding(r.task.Task.ID))
		if err != nil {
			return envelope.Key{}, "", "the task's default password could not be read", nil
		}
		defaultPassword = string(plain)
	}
	return key, defaultPassword, "", nil
}

// hashAll computes the new password of each entry of todo, in parallel (an
// argon2id hash is the costly part), and records it in writes and the
// entry. A default password that the policy refuses for one user fails
// only that user.
func (r *chunkRun) hashAll(todo []int, key envelope.Key, defaultPassword string, generated bool, writes map[string]rekey.UserWrite) error {
	type result struct {
		i      int
		write  rekey.UserWrite
		sealed []byte
		why    string
		err    error
	}
	results := make([]result, len(todo))
	now := r.w.now()
	var wg sync.WaitGroup
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	for n, i := range todo {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			e := r.chunk.Entries[i]
			u := r.users[e.Result.UserID]
			res := result{i: i}
			pw := defaultPassword
			if generated {
				if pw, res.err = password.GenerateFor(r.task.Policy, u, r.task.KidFriendlyGrade()); res.err != nil {
					results[n] = res
					return
				}
			} else if err := password.Check(r.task.Policy, "delivery.defaultPassword", pw, u); err != nil {
				res.why = "the default password cannot be used for this user: " + rekey.ErrorMessage(err)
				results[n] = res
				return
			}
			hash, err := r.w.hasher.Hash(pw)
			if err != nil {
				res.err = err
				results[n] = res
				return
			}
			after := resets.ApplyTemporaryPassword(u, hash, now)
			detail := "the task's default password set; it must be changed at next sign-in"
			if generated {
				detail = "a generated password set (in the task's results file for 24 hours); it must be changed at next sign-in"
			}
			res.write = rekey.UserWrite{Before: u, After: after, Audit: r.auditEntry(u, after, rekey.ActionResetTemporary, now, detail)}
			if generated {
				res.sealed = key.Seal([]byte(pw), passwordBinding(r.task.Task.ID, u.ID))
			}
			results[n] = res
		}()
	}
	wg.Wait()
	for _, res := range results {
		e := &r.chunk.Entries[res.i]
		switch {
		case res.err != nil:
			return fmt.Errorf("make password: %w", res.err)
		case res.why != "":
			e.Finish(rekey.OutcomeFailed, res.why)
			e.Result.Attempts = 1
		default:
			writes[e.Result.UserID] = res.write
			e.Finish(rekey.OutcomePasswordSet, "")
			e.Result.Attempts, e.Result.ReachedAt = 1, res.write.After.PasswordChangedAt
			e.SealedPassword = res.sealed
		}
	}
	return nil
}
