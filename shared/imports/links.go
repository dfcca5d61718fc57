package imports

import (
	"context"
	"fmt"
	"slices"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
)

// Guardian links (agentSourcedIds)
//
// OneRoster may name a link on either side: a guardian's agentSourcedIds
// list its students, a student's list its guardians, and a file may carry
// one side, the other or both. Start mirrors the links over the whole file
// (mirrorLinks), so that each of the two rows names the other. The worker
// then, after writing a chunk's users, links each row's user to those of
// its partners that exist by now (linkRow): whichever of the two rows is
// written second makes the link, whatever the chunks' order, and a partner
// that existed before the import is linked by the row's own chunk. Each
// link is one all-or-nothing write of both sides (WriteUsers, conditional
// on both versions) with an audit entry per side; a link already on both
// sides is left alone, so a redelivered chunk or a re-imported file
// changes nothing. Both rows look their partner up after their own user is
// written, through the externalId claims read consistently, so two chunks
// running at once cannot both miss each other.

// maxLinkAttempts bounds the re-reads of a link write that lost a race
// with another write of one of its users.
const maxLinkAttempts = 3

// mirrorLinks makes the agentSourcedIds of rows symmetric: a row named by
// another row's agentSourcedIds gets that row's externalId among its own.
func mirrorLinks(rows []roster.Row) {
	byExt := make(map[string]int, len(rows))
	for i, r := range rows {
		if r.ExternalID != "" {
			byExt[r.ExternalID] = i
		}
	}
	for i := range rows {
		for _, a := range rows[i].AgentIDs {
			j, ok := byExt[a]
			if !ok || rows[i].ExternalID == "" || slices.Contains(rows[j].AgentIDs, rows[i].ExternalID) {
				continue
			}
			rows[j].AgentIDs = append(slices.Clone(rows[j].AgentIDs), rows[i].ExternalID)
		}
	}
}

// linkRow links the user of a written row to its partners that exist now
// and returns the links it added (partners' externalIds), for the row's
// result. A partner of the wrong role, another district, or outside the
// actor's reach is not linked (the plan of the whole file already judged
// the rows; such a partner can only be an existing user that changed).
func (w *Worker) linkRow(ctx context.Context, actor rekey.User, job rekey.ImportJob, userID string, agents []string) ([]string, error) {
	if userID == "" || len(agents) == 0 {
		return nil, nil
	}
	partners, err := w.store.FindUsers(ctx, job.DistrictID, agents, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("imports: link partners: %w", err)
	}
	var added []string
	for _, a := range agents {
		i := slices.IndexFunc(partners, func(u rekey.User) bool { return u.ExternalID == a && u.DistrictID == job.DistrictID })
		if i < 0 {
			continue // not written yet: its own row links it
		}
		linked, err := w.link(ctx, actor, job, userID, partners[i].ID)
		if err != nil {
			return added, err
		}
		if linked {
			added = append(added, a)
		}
	}
	return added, nil
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
			entry := rekey.AuditEntry{ID: rekey.NewID(), At: now, DistrictID: job.DistrictID, ActorID: actor.ID,
				ActorName: actor.FullName(), TargetID: u.After.ID, Action: rekey.ActionUserUpdate, Outcome: rekey.OutcomeSuccess,
				Detail: "import " + job.TaskID, RequestID: job.TaskID,
				Before: map[string]any{"guardianOf": u.Before.GuardianOf, "guardians": u.Before.Guardians},
				After:  map[string]any{"guardianOf": u.After.GuardianOf, "guardians": u.After.Guardians}}
			if u.After.Role == rekey.RoleGuardian {
				delete(entry.Before, "guardians")
				delete(entry.After, "guardians")
			} else {
				delete(entry.Before, "guardianOf")
				delete(entry.After, "guardianOf")
			}
			write.Audit = append(write.Audit, entry)
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
