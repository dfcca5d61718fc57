package imports

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
)

// Guardian links (agentSourcedIds)
//
// OneRoster may name a link on either side: a guardian's agentSourcedIds
// list its students, a student's list its guardians, and a file may carry
// one side, the other or both. Start mirrors the links over the whole file
// (linkIndex: the links kept from a first reading, added to the rows as a
// last reading stores them), so that each of the two rows names the other. The worker
// then, after writing a chunk's users, links each row's user to those of
// its partners that exist by now (linkAll, every partner of the chunk read
// at once): whichever of the two rows is written second makes the link,
// whatever the chunks' order, and a partner that existed before the import
// is linked by the row's own chunk. A link is an all-or-nothing write of
// both sides (WriteUsers, conditional on both versions, several links
// packed in one) with an audit entry per side; a link already on both
// sides is left alone, so a redelivered chunk or a re-imported file
// changes nothing. Both rows look their partner up after their own user is
// written, through the externalId claims read consistently, so two chunks
// running at once cannot both miss each other.

// maxLinkAttempts bounds the re-reads of a link write that lost a race
// with another write of one of its users.
const maxLinkAttempts = 3

// linkIndex is the file's guardian links as Start's first reading of it
// finds them: for each externalId a row names in its agentSourcedIds, the
// externalIds of the rows naming it, in file order. Start's last reading
// then mirrors them into the rows it stores (mirror), so that each of the
// two rows of a link names the other, without holding the file's rows:
// only the rows that name partners cost memory here, an entry per link.
type linkIndex struct{ namedBy map[string][]string }

func newLinkIndex() *linkIndex { return &linkIndex{namedBy: map[string][]string{}} }

// add records the links row r names (none when it has no externalId: no
// partner could name it back).
func (l *linkIndex) add(r roster.Row) {
	if r.ExternalID == "" {
		return
	}
	for _, a := range r.AgentIDs {
		l.namedBy[a] = append(l.namedBy[a], r.ExternalID)
	}
}

// mirror returns r with the externalIds of the rows naming it added to
// its agentSourcedIds (each once; r's own list is not modified in place).
func (l *linkIndex) mirror(r roster.Row) roster.Row {
	if r.ExternalID == "" {
		return r
	}
	for _, by := range l.namedBy[r.ExternalID] {
		if !slices.Contains(r.AgentIDs, by) {
			r.AgentIDs = append(slices.Clone(r.AgentIDs), by)
		}
	}
	return r
}

// linkRow links the user of a written row to its partners that exist now
// and returns the links it added (partners' externalIds), for the row's
// result: linkAll for one row.
func (w *Worker) linkRow(ctx context.Context, actor rekey.User, job rekey.ImportJob, userID string, agents []string) ([]string, error) {
	added, err := w.linkAll(ctx, actor, job, []linkRequest{{row: 0, userID: userID, agents: agents}})
	return added[0], err
}

// linkRequest is a written row's user and the partners it names.
type linkRequest struct {
	row    int
	userID string
	agents []string
}

// pair is one link to write: a guardian's and a student's user ids.
type pair struct{ g, s string }

// maxLinkUsers is the most users one batched link write updates: a user
// and its audit entry are two items, under DynamoDB's 100.
const maxLinkUsers = 48

// linkAll links the users of a chunk's written rows to their partners
// that exist now and returns, by row, the links each added (partners'
// externalIds). It reads every partner at once (FindUsers) and writes the
// links in few transactions: the links that share a user go into one
// write with that user updated once, and writes are packed up to
// maxLinkUsers users. A packed write that fails (a user changed meanwhile)
// is redone link by link (link), which re-reads and retries. A partner of
// the wrong role, another district, or outside the actor's reach is not
// linked (the plan of the whole file already judged the rows; such a
// partner can only be an existing user that changed).
func (w *Worker) linkAll(ctx context.Context, actor rekey.User, job rekey.ImportJob, reqs []linkRequest) (map[int][]string, error) {
	added := map[int][]string{}
	var agents []string
	for _, r := range reqs {
		if r.userID != "" {
			agents = append(agents, r.agents...)
		}
	}
	if len(agents) == 0 {
		return added, nil
	}
	partners, err := w.store.FindUsers(ctx, job.DistrictID, agents, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("imports: link partners: %w", err)
	}
	users := map[string]rekey.User{}
	byExt := map[string]string{}
	for _, u := range partners {
		if u.DistrictID == job.DistrictID {
			users[u.ID], byExt[u.ExternalID] = u, u.ID
		}
	}
	var missing []string
	for _, r := range reqs {
		if _, ok := users[r.userID]; r.userID != "" && !ok && !slices.Contains(missing, r.userID) {
			missing = append(missing, r.userID)
		}
	}
	if len(missing) > 0 {
		more, err := w.store.GetUsers(ctx, missing)
		if err != nil {
			return nil, fmt.Errorf("imports: link: %w", err)
		}
		for id, u := range more {
			users[id] = u
		}
	}
	// The links to write, each once, with the rows that asked for it.
	type asked struct {
		row int
		ext string
	}
	var order []pair
	askedBy := map[pair][]asked{}
	for _, r := range reqs {
		for _, a := range r.agents {
			pid, ok := byExt[a]
			if !ok || r.userID == "" {
				continue // not written yet: its own row links it
			}
			g, s := users[r.userID], users[pid]
			if g.Role == rekey.RoleStudent {
				g, s = s, g
			}
			if g.Role != rekey.RoleGuardian || s.Role != rekey.RoleStudent || g.DistrictID != job.DistrictID ||
				s.DistrictID != job.DistrictID || !mayLink(actor, g) || !mayLink(actor, s) ||
				slices.Contains(g.GuardianOf, s.ID) && slices.Contains(s.Guardians, g.ID) {
				continue
			}
			p := pair{g.ID, s.ID}
			if _, seen := askedBy[p]; !seen {
				order = append(order, p)
			}
			askedBy[p] = append(askedBy[p], asked{r.row, a})
		}
	}
	// Links that share a user are written together (one group).
	group := map[string]int{} // user id → group
	var groups [][]pair
	for _, p := range order {
		gi, gok := group[p.g]
		si, sok := group[p.s]
		switch {
		case !gok && !sok:
			gi = len(groups)
			groups = append(groups, nil)
		case gok && sok && gi != si:
			for _, q := range groups[si] {
				group[q.g], group[q.s] = gi, gi
			}
			groups[gi], groups[si] = append(groups[gi], groups[si]...), nil
		case sok:
			gi = si
		}
		group[p.g], group[p.s] = gi, gi
		groups[gi] = append(groups[gi], p)
	}
	var pack []pair
	packUsers := 0
	flush := func() error {
		if len(pack) == 0 {
			return nil
		}
		written, err := w.writeLinks(ctx, actor, job, users, pack)
		if err != nil {
			return err
		}
		for _, p := range pack {
			ok := written
			if !written {
				if ok, err = w.link(ctx, actor, job, p.g, p.s); err != nil {
					return err
				}
			}
			if ok {
				for _, a := range askedBy[p] {
					added[a.row] = append(added[a.row], a.ext)
				}
			}
		}
		pack, packUsers = nil, 0
		return nil
	}
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		n := 0
		seen := map[string]bool{}
		for _, p := range g {
			for _, id := range []string{p.g, p.s} {
				if !seen[id] {
					seen[id] = true
					n++
				}
			}
		}
		if packUsers+n > maxLinkUsers {
			if err := flush(); err != nil {
				return added, err
			}
		}
		pack, packUsers = append(pack, g...), packUsers+n
	}
	if err := flush(); err != nil {
		return added, err
	}
	return added, nil
}

// writeLinks writes links (whose users are in users, as read) in one
// transaction, each user updated once with an audit entry; false when a
// user changed since it was read (nothing is then written).
func (w *Worker) writeLinks(ctx context.Context, actor rekey.User, job rekey.ImportJob, users map[string]rekey.User, links []pair) (bool, error) {
	now := w.now()
	after := map[string]rekey.User{}
	var ids []string
	touch := func(id string) rekey.User {
		u, ok := after[id]
		if !ok {
			u = users[id]
			u.GuardianOf, u.Guardians = slices.Clone(u.GuardianOf), slices.Clone(u.Guardians)
			u.Version, u.UpdatedAt = u.Version+1, now
			ids = append(ids, id)
		}
		return u
	}
	for _, l := range links {
		g, s := touch(l.g), touch(l.s)
		if !slices.Contains(g.GuardianOf, l.s) {
			g.GuardianOf = append(g.GuardianOf, l.s)
		}
		if !slices.Contains(s.Guardians, l.g) {
			s.Guardians = append(s.Guardians, l.g)
		}
		after[l.g], after[l.s] = g, s
	}
	var write rekey.UsersWrite
	for _, id := range ids {
		write.Updates = append(write.Updates, rekey.UserUpdate{Before: users[id], After: after[id]})
		write.Audit = append(write.Audit, linkAudit(actor, job, now, users[id], after[id]))
	}
	err := w.store.WriteUsers(ctx, write)
	if err == nil {
		return true, nil
	}
	if code := rekey.ErrorCode(err); code == rekey.ECodeVersionConflict || code == rekey.ECodeConflict {
		return false, nil
	}
	return false, fmt.Errorf("imports: write links: %w", err)
}

// linkAudit is the audit entry of a link on one side: a guardian's
// guardianOf or a student's guardians, before and after.
func linkAudit(actor rekey.User, job rekey.ImportJob, now time.Time, before, after rekey.User) rekey.AuditEntry {
	entry := rekey.AuditEntry{ID: rekey.NewID(), At: now, DistrictID: job.DistrictID, ActorID: actor.ID,
		ActorName: actor.FullName(), TargetID: after.ID, Action: rekey.ActionUserUpdate, Outcome: rekey.OutcomeSuccess,
		Detail: "import " + job.TaskID, RequestID: job.TaskID,
		Before: map[string]any{"guardianOf": before.GuardianOf, "guardians": before.Guardians},
		After:  map[string]any{"guardianOf": after.GuardianOf, "guardians": after.Guardians}}
	if after.Role == rekey.RoleGuardian {
		delete(entry.Before, "guardians")
		delete(entry.After, "guardians")
	} else {
		delete(entry.Before, "guardianOf")
		delete(entry.After, "guardianOf")
	}
	return entry
}

// link writes the link between one user and a partner, both sides at
// once; false when there is nothing to write (already linked, or not a
// guardian and a student of the district the actor may edit).
func (w *Worker) link(ctx context.Context, actor rekey.User, job rekey.ImportJob, userID, partnerID string) (bool, error) {
	for attempt := 1; ; attempt++ {
		users, err := w.store.GetUsers(ctx, []string{userID, partnerID})
		if err != nil {
			return false, fmt.Errorf("imports: link: %w", err)
		}
		g, gok := users[userID]
		s, sok := users[partnerID]
		if g.Role == rekey.RoleStudent {
			g, s = s, g
		}
		if !gok || !sok || g.Role != rekey.RoleGuardian || s.Role != rekey.RoleStudent ||
			g.DistrictID != job.DistrictID || s.DistrictID != job.DistrictID || !mayLink(actor, g) || !mayLink(actor, s) {
			return false, nil
		}
		if slices.Contains(g.GuardianOf, s.ID) && slices.Contains(s.Guardians, g.ID) {
			return false, nil
		}
		now := w.now()
		gAfter, sAfter := g, s
		if !slices.Contains(g.GuardianOf, s.ID) {
			gAfter.GuardianOf = append(slices.Clone(g.GuardianOf), s.ID)
		}
		if !slices.Contains(s.Guardians, g.ID) {
			sAfter.Guardians = append(slices.Clone(s.Guardians), g.ID)
		}
		gAfter.Version, gAfter.UpdatedAt = g.Version+1, now
		sAfter.Version, sAfter.UpdatedAt = s.Version+1, now
		write := rekey.UsersWrite{Updates: []rekey.UserUpdate{{Before: g, After: gAfter}, {Before: s, After: sAfter}}}
		for _, u := range write.Updates {
			write.Audit = append(write.Audit, linkAudit(actor, job, now, u.Before, u.After))
		}
		err = w.store.WriteUsers(ctx, write)
		if err == nil {
			return true, nil
		}
		code := rekey.ErrorCode(err)
		if (code != rekey.ECodeVersionConflict && code != rekey.ECodeConflict) || attempt >= maxLinkAttempts {
			return false, fmt.Errorf("imports: link %s and %s: %w", g.ID, s.ID, err)
		}
	}
}

// mayLink: the actor may edit u as an import may: district admins every
// user of their district, school admins their school's.
func mayLink(actor rekey.User, u rekey.User) bool {
	return actor.Role == rekey.RoleDistrictAdmin && actor.DistrictID == u.DistrictID ||
		actor.Role == rekey.RoleSchoolAdmin && actor.DistrictID == u.DistrictID && u.SchoolID == actor.SchoolID
}

// linkField names the links a row's result lists: a guardian's students
// (guardianOf) or a student's guardians.
func linkField(role rekey.Role) string {
	if role == rekey.RoleStudent {
		return "guardians"
	}
	return "guardianOf"
}
