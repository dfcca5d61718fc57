package bulk

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/bulk/envelope"
	"github.com/rekey/rekey/shared/csvcell"
	"github.com/rekey/rekey/shared/rekey"
)

// ResultPage is one page of a task's per-user results, in the order the
// task reached its users; Next is empty on the last page.
type ResultPage struct {
	Items []rekey.TaskResult
	Next  string
}

// Results returns one page of the users task id has finished with (users
// still to be reached appear once they are done). Each row is judged
// against actor's current scope (see rowScope): a user actor may no longer
// view keeps only their id, outcome, attempts and error. Generated
// passwords are never part of it: only the CSV carries them.
func (s *Service) Results(ctx context.Context, actor rekey.User, id string, limit int, cursor string) (ResultPage, error) {
	return s.ResultsIn(ctx, actor, id, "", limit, cursor)
}

// ResultsIn is Results filtered by state (a result state, or
// rekey.StateUnfinished for every result not completed; "" for all), on
// the server: a page holds up to limit matching results and its cursor
// resumes after the last result looked at.
func (s *Service) ResultsIn(ctx context.Context, actor rekey.User, id, state string, limit int, cursor string) (ResultPage, error) {
	if err := checkStateFilter(state); err != nil {
		return ResultPage{}, err
	}
	rec, err := s.visible(ctx, actor, id)
	if err != nil {
		return ResultPage{}, err
	}
	resetID, now := taskResetID(rec.Task.ID), s.now()
	limit, err = rekey.TaskResultPaging.Limit(limit)
	if err != nil {
		return ResultPage{}, err
	}
	at, err := parseResultCursor(cursor)
	if err != nil {
		return ResultPage{}, err
	}
	page := ResultPage{Items: make([]rekey.TaskResult, 0, limit)}
	for at.chunk < rec.Plan.Chunks {
		chunks, err := s.store.ListChunks(ctx, rec.Task.ID, at.chunk, limit/rekey.ChunkSize+2)
		if err != nil {
			return ResultPage{}, fmt.Errorf("bulk: read results: %w", err)
		}
		if len(chunks) == 0 {
			break
		}
		if err := s.mergeMailStates(ctx, chunks); err != nil {
			return ResultPage{}, err
		}
		for _, c := range chunks {
			if c.Index < at.chunk {
				continue
			}
			if c.Index > at.chunk {
				at = resultPosition{chunk: c.Index}
			}
			read := limit - len(page.Items)
			if state != "" {
				read = rekey.ChunkSize // a filter may pass over any of them
			}
			rows, err := s.scopeRows(ctx, actor, c.Entries[min(at.entry, len(c.Entries)):], read)
			if err != nil {
				return ResultPage{}, err
			}
			for i := at.entry; i < len(c.Entries); i++ {
				if len(page.Items) == limit {
					page.Next = at.withEntry(i).String()
					return page, nil
				}
				if e := c.Entries[i]; e.Final() {
					u, known := rows.users[e.Result.UserID]
					st := ResultState(e, u, known, resetID, now)
					if !matchesState(state, st) {
						continue
					}
					r, _ := rows.result(e)
					r.State = st
					page.Items = append(page.Items, r)
				}
			}
			at = resultPosition{chunk: c.Index + 1}
		}
	}
	return page, nil
}

// resultPosition is where a result listing resumes: an entry of a chunk.
type resultPosition struct{ chunk, entry int }

func (p resultPosition) withEntry(i int) resultPosition { return resultPosition{p.chunk, i} }

// String is the store-level cursor, "<chunk>.<entry>".
func (p resultPosition) String() string { return strconv.Itoa(p.chunk) + "." + strconv.Itoa(p.entry) }

var errResultCursor = &rekey.Error{Code: rekey.ECodeInvalidCursor, Field: "cursor", Message: "The cursor is not valid for this listing."}

func parseResultCursor(cursor string) (resultPosition, error) {
	if cursor == "" {
		return resultPosition{}, nil
	}
	c, e, ok := strings.Cut(cursor, ".")
	chunk, err1 := strconv.Atoi(c)
	entry, err2 := strconv.Atoi(e)
	if !ok || err1 != nil || err2 != nil || chunk < 0 || entry < 0 || entry >= rekey.ChunkSize {
		return resultPosition{}, errResultCursor
	}
	return resultPosition{chunk, entry}, nil
}

// CSVHeader is the first line of a results file; generated-password tasks
// add a "password" column.
var CSVHeader = []string{"username", "firstName", "lastName", "externalId", "school", "grade", "email", "outcome", "error"}

// chunksPerRead is how many chunks the CSV export reads at a time.
const chunksPerRead = 10

// ResultsCSV writes task id's results as CSV for a mail merge: one line per
// user it has finished with (username, names, externalId, school name,
// grade, email, outcome, error) and, for generated passwords, the password
// — filled in only for the task's creator, only within PasswordRetention
// of the task's start, and only while the creator may still reset that
// user. Rows are judged against actor's current scope like Results': a
// user actor may no longer view keeps only the outcome and error. Every
// cell that a spreadsheet would read as a formula is neutralised
// (SECURITY.md 30).
func (s *Service) ResultsCSV(ctx context.Context, actor rekey.User, id string, w io.Writer) error {
	rec, err := s.visible(ctx, actor, id)
	if err != nil {
		return err
	}
	withPasswords := rec.Task.Delivery.Mode == rekey.DeliverGeneratedPasswords
	key, keyOK, err := s.passwordKey(ctx, actor, rec)
	if err != nil {
		return err
	}
	schools := &schoolNames{store: s.store, districtID: rec.Task.DistrictID}

	out := csv.NewWriter(w)
	header := CSVHeader
	if withPasswords {
		header = append(header[:len(header):len(header)], "password")
	}
	if err := out.Write(header); err != nil {
		return fmt.Errorf("bulk: write results: %w", err)
	}
	err = s.eachFinalResult(ctx, actor, rec, func(e rekey.ChunkEntry, rows rowScope) error {
		r, passwordOK := rows.result(e)
		school, err := schools.name(ctx, r.SchoolID)
		if err != nil {
			return err
		}
		row := []string{r.Username, r.FirstName, r.LastName, r.ExternalID, school, r.Grade, r.Email, string(r.Outcome), r.Error}
		if withPasswords {
			pw := ""
			if keyOK && passwordOK && len(e.SealedPassword) > 0 {
				if plain, err := key.Open(e.SealedPassword, passwordBinding(rec.Task.ID, r.UserID)); err == nil {
					pw = string(plain)
				}
			}
			row = append(row, pw)
		}
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		if err := out.Write(row); err != nil {
			return fmt.Errorf("bulk: write results: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return fmt.Errorf("bulk: write results: %w", err)
	}
	return nil
}

// eachFinalResult calls fn with each settled entry of task rec, in chunk
// order, and the viewer's row scope of its page: chunksPerRead chunks (and
// their users, in one batch) are read at a time, so a task of any size is
// streamed. The results CSV and the login letters read a task this way.
func (s *Service) eachFinalResult(ctx context.Context, viewer rekey.User, rec rekey.TaskRecord, fn func(e rekey.ChunkEntry, rows rowScope) error) error {
	for from := 0; from < rec.Plan.Chunks; from += chunksPerRead {
		chunks, err := s.store.ListChunks(ctx, rec.Task.ID, from, chunksPerRead)
		if err != nil {
			return fmt.Errorf("bulk: read results: %w", err)
		}
		var entries []rekey.ChunkEntry
		for _, c := range chunks {
			entries = append(entries, c.Entries...)
		}
		rows, err := s.scopeRows(ctx, viewer, entries, len(entries))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.Final() {
				continue
			}
			if err := fn(e, rows); err != nil {
				return err
			}
		}
		if len(chunks) < chunksPerRead {
			return nil
		}
	}
	return nil
}

// passwordKey opens the task's data key when actor may read its generated
// passwords: the creator, within PasswordRetention. ok is false otherwise.
// Being the creator is necessary, not sufficient: each password is then
// shown only if rowScope allows it for its user.
func (s *Service) passwordKey(ctx context.Context, actor rekey.User, rec rekey.TaskRecord) (envelope.Key, bool, error) {
	if rec.Task.Delivery.Mode != rekey.DeliverGeneratedPasswords || actor.ID != rec.Task.CreatedBy || s.keys == nil {
		return envelope.Key{}, false, nil
	}
	secrets, err := s.store.GetTaskSecrets(ctx, rec.Task.ID)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		return envelope.Key{}, false, nil
	}
	if err != nil {
		return envelope.Key{}, false, fmt.Errorf("bulk: read task key: %w", err)
	}
	if !s.now().Before(secrets.ExpiresAt) || !s.now().Before(rec.Task.CreatedAt.Add(rekey.PasswordRetention)) {
		return envelope.Key{}, false, nil
	}
	key, err := s.keys.OpenKey(ctx, rec.Task.ID, secrets.SealedKey)
	if err != nil {
		return envelope.Key{}, false, fmt.Errorf("bulk: open task key: %w", err)
	}
	return key, true, nil
}

// rowScope decides, row by row, what a viewer may read of a task's results
// as things stand now (SECURITY.md 21–22): a task's rows outlive the
// authority its creator had when it ran, so creating or seeing the task
// grants nothing about its users. Each row's user is re-read and judged
// with the permission matrix:
//
//   - a user the viewer may view (authz.ActionView) shows in full;
//   - any other user — moved out of the viewer's scope, now of a role the
//     viewer may not see, or deleted — keeps only their id, the outcome,
//     the attempts and the error (which never hold personal data), so that
//     the rows still add up to the task's counters;
//   - a password may be shown only for a user the viewer may reset
//     (authz.ActionReset) now: someone who could set a new password anyway.
type rowScope struct {
	viewer rekey.User
	users  map[string]rekey.User // current records, by id; missing = gone
}

// scopeRows reads, in one batch, the current records of the users of the
// first limit final entries: the rows about to be shown.
func (s *Service) scopeRows(ctx context.Context, viewer rekey.User, entries []rekey.ChunkEntry, limit int) (rowScope, error) {
	ids := make([]string, 0, min(len(entries), limit))
	for _, e := range entries {
		if len(ids) == limit {
			break
		}
		if e.Final() {
			ids = append(ids, e.Result.UserID)
		}
	}
	rows := rowScope{viewer: viewer, users: map[string]rekey.User{}}
	if len(ids) == 0 {
		return rows, nil
	}
	users, err := s.store.GetUsers(ctx, ids)
	if err != nil {
		return rowScope{}, fmt.Errorf("bulk: read the users of the results: %w", err)
	}
	rows.users = users
	return rows, nil
}

// result is what the viewer may read of e's result, never its password;
// passwordOK says whether they may read the user's generated password.
func (g rowScope) result(e rekey.ChunkEntry) (r rekey.TaskResult, passwordOK bool) {
	r = e.Result
	r.Password = ""
	u, ok := g.users[r.UserID]
	if !ok || !authz.Allowed(g.viewer, u, authz.ActionView) {
		return rekey.TaskResult{UserID: r.UserID, Outcome: r.Outcome, Attempts: r.Attempts, Error: r.Error}, false
	}
	return r, authz.Allowed(g.viewer, u, authz.ActionReset)
}

// csvSafe neutralises a cell a spreadsheet would run as a formula
// (csvcell.Safe, shared by every CSV export).
func csvSafe(cell string) string { return csvcell.Safe(cell) }

// schoolNames looks school names up once each.
type schoolNames struct {
	store      userReader
	districtID string
	names      map[string]string
}

func (n *schoolNames) name(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if n.names == nil {
		n.names = map[string]string{}
		if n.districtID != "" {
			schools, err := n.store.ListSchools(ctx, n.districtID)
			if err != nil {
				return "", fmt.Errorf("bulk: read schools: %w", err)
			}
			for _, s := range schools {
				n.names[s.ID] = s.Name
			}
		}
	}
	if name, ok := n.names[id]; ok {
		return name, nil
	}
	school, err := n.store.GetSchool(ctx, id)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		n.names[id] = ""
	case err != nil:
		return "", fmt.Errorf("bulk: read school: %w", err)
	default:
		n.names[id] = school.Name
	}
	return n.names[id], nil
}
