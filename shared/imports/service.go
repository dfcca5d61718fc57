package imports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
	"golang.org/x/sync/errgroup"
)

// MaxDirectBytes is the largest file POST /api/imports takes in its body;
// larger files go through an upload (POST /api/imports/uploads).
const MaxDirectBytes = 5 << 20

// MaxUploadBytes is the largest uploaded file an import reads.
const MaxUploadBytes = 100 << 20

// RowsPerChunk is how many rows one worker invocation applies: about 250
// conditional writes, a few seconds on DynamoDB, and a chunk item of some
// 60 KB (under the 400 KB item limit).
const RowsPerChunk = 250

// UploadExpiry is how long a presigned upload URL works.
const UploadExpiry = 15 * time.Minute

// Content types of a file sent in the request body.
const (
	TypeCSV = "text/csv"
	TypeZip = "application/zip"
)

// Directory is the store's side of planning (roster.Directory, with keys
// as plain lists so that stores need not import roster).
type Directory interface {
	ListSchools(ctx context.Context, districtID string) ([]rekey.School, error)
	FindUsers(ctx context.Context, districtID string, externalIDs, usernames, emails []string) ([]rekey.User, error)
}

// directory adapts a Directory to roster.Directory.
type directory struct{ Directory }

func (d directory) Schools(ctx context.Context, districtID string) ([]rekey.School, error) {
	return d.ListSchools(ctx, districtID)
}

func (d directory) FindUsers(ctx context.Context, districtID string, k roster.Keys) ([]rekey.User, error) {
	return d.Directory.FindUsers(ctx, districtID, k.ExternalIDs, k.Usernames, k.Emails)
}

// Store is what the service needs: the directory, schools, and the task.
type Store interface {
	Directory
	PutSchool(ctx context.Context, s rekey.School) error
	// PutImportChunk stores one chunk of an import's rows before
	// CreateImport writes the task that names them (createdAt is the
	// task's, for the chunk's expiry).
	PutImportChunk(ctx context.Context, id string, createdAt time.Time, c rekey.ImportChunk) error
	CreateImport(ctx context.Context, rec rekey.TaskRecord, job rekey.ImportJob, audit rekey.AuditEntry) error
	GetImport(ctx context.Context, id string) (rekey.ImportJob, error)
	GetImportChunk(ctx context.Context, id string, index int) (rekey.ImportChunk, error)
	GetTask(ctx context.Context, id string) (rekey.TaskRecord, error)
}

// Files is the bucket of uploaded import files; shared/imports/s3files
// implements it on S3.
type Files interface {
	PresignPut(ctx context.Context, key string, expires time.Duration) (string, error)
	Get(ctx context.Context, key string, max int64) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// Queue takes the chunk messages; *queue.Sender implements it.
type Queue interface {
	SendBatch(ctx context.Context, messages []any) error
}

// ChunkMessage is the work queue's message: one chunk of one import.
type ChunkMessage struct {
	TaskID string `json:"taskId"`
	Chunk  int    `json:"chunk"`
}

// Source is the file of an import: a body with its content type, or an
// earlier upload.
type Source struct {
	Body        []byte
	ContentType string
	ImportID    string
}

// Upload is the answer of POST /api/imports/uploads.
type Upload struct {
	UploadURL string `json:"uploadUrl"`
	ImportID  string `json:"importId"`
}

// Deps are the service's collaborators; Files may be nil (no uploads).
type Deps struct {
	Store  Store
	Files  Files
	Queue  Queue
	Logger *slog.Logger
	Now    func() time.Time
	// RowsPerChunk is the chunk size; 0 means RowsPerChunk (tests use
	// small chunks to exercise several on small files).
	RowsPerChunk int
}

// Service runs dry runs and starts imports on behalf of an actor.
type Service struct {
	store Store
	files Files
	queue Queue
	log   *slog.Logger
	now   func() time.Time
	chunk int
}

// NewService returns a Service.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil || d.Queue == nil {
		return nil, errors.New("imports: a store and a queue are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.RowsPerChunk <= 0 {
		d.RowsPerChunk = RowsPerChunk
	}
	return &Service{store: d.Store, files: d.Files, queue: d.Queue, log: d.Logger, now: d.Now, chunk: d.RowsPerChunk}, nil
}

// errForbidden is the answer to teachers, students and anyone else who
// may not import.
var errForbidden = &rekey.Error{Code: rekey.ECodeForbidden, Message: "Only district and school admins may import users."}

// mayImport: district admins and school admins only (support has no
// district to import into).
func mayImport(actor rekey.User) bool {
	return actor.Role == rekey.RoleDistrictAdmin || actor.Role == rekey.RoleSchoolAdmin
}

// NewUpload hands out a presigned PUT for a file too large for a request
// body. The object's key binds it to the actor: another user's importId
// names no object of theirs.
func (s *Service) NewUpload(ctx context.Context, actor rekey.User) (Upload, error) {
	if !mayImport(actor) {
		return Upload{}, errForbidden
	}
	if s.files == nil {
		return Upload{}, errors.New("imports: no upload bucket configured")
	}
	id := rekey.NewID()
	url, err := s.files.PresignPut(ctx, uploadKey(actor, id), UploadExpiry)
	if err != nil {
		return Upload{}, fmt.Errorf("imports: presign upload: %w", err)
	}
	return Upload{UploadURL: url, ImportID: id}, nil
}

// uploadKey is where the actor's upload importID lives in the bucket.
func uploadKey(actor rekey.User, importID string) string {
	return "uploads/" + actor.DistrictID + "/" + actor.ID + "/" + importID
}

// errNoUpload answers an importId with no uploaded file of the caller's.
var errNoUpload = rekey.FieldError(rekey.ECodeNotFound, "importId", "No uploaded file with that importId; upload it again.")

// body is the source's bytes and content type, and the S3 key to delete
// after the import ("" for a body).
func (s *Service) body(ctx context.Context, actor rekey.User, src Source) ([]byte, string, string, error) {
	if src.ImportID != "" {
		if !rekey.ValidID(src.ImportID) {
			return nil, "", "", rekey.FieldError(rekey.ECodeInvalidID, "importId", "Not a valid importId.")
		}
		if s.files == nil {
			return nil, "", "", errNoUpload
		}
		key := uploadKey(actor, src.ImportID)
		body, err := s.files.Get(ctx, key, MaxUploadBytes)
		if errors.Is(err, rekey.ErrNotFound) {
			return nil, "", "", errNoUpload
		}
		if err != nil {
			return nil, "", "", fmt.Errorf("imports: read upload: %w", err)
		}
		contentType := TypeCSV
		if bytes.HasPrefix(body, []byte("PK")) {
			contentType = TypeZip
		}
		return body, contentType, key, nil
	}
	return src.Body, src.ContentType, "", nil
}

// readRows reads a body of the given content type, giving each row to
// each instead of keeping it in the File's Rows (nil each: all kept).
func readRows(body []byte, contentType string, each func(roster.Row)) (*roster.File, error) {
	var f *roster.File
	var err error
	switch contentType {
	case TypeZip:
		f, err = roster.ReadBundleRows(bytes.NewReader(body), int64(len(body)), roster.Limits{}, each)
	case TypeCSV:
		f, err = roster.ReadUsersCSVRows(bytes.NewReader(body), roster.Limits{}, each)
	default:
		return nil, &rekey.Error{Code: rekey.ECodeUnsupportedMedia, Message: "Send a users CSV as text/csv or a OneRoster bundle as application/zip."}
	}
	if err != nil {
		return nil, fmt.Errorf("imports: read file: %w", err)
	}
	return f, nil
}

// Preview is the dry run: what importing the file would do, nothing
// written. Errors of rows are in the summary, not an error. It reads the
// file twice rather than hold its rows (roster.SummarizeRows), so that
// its memory stays nearly flat as files grow.
func (s *Service) Preview(ctx context.Context, actor rekey.User, src Source) (roster.Summary, error) {
	if !mayImport(actor) {
		return roster.Summary{}, errForbidden
	}
	body, contentType, _, err := s.body(ctx, actor, src)
	if err != nil {
		return roster.Summary{}, err
	}
	res, err := s.plan(ctx, actor, body, contentType, nil)
	if err != nil {
		return roster.Summary{}, err
	}
	return res.Summary, nil
}

// plan plans the file in body as the dry run does (roster.SummarizeRows
// reads it twice); first, when not nil, also sees each row of the first
// reading. A file that cannot be read is its own error (bad zip, missing
// users.csv…), returned as it is; a failure of the plan itself is wrapped.
func (s *Service) plan(ctx context.Context, actor rekey.User, body []byte, contentType string, first func(roster.Row)) (*roster.Result, error) {
	readings := 0
	var readErr error // a failure to read the file, not of the plan
	res, err := roster.SummarizeRows(ctx, func(each func(roster.Row)) (*roster.File, error) {
		if readings++; readings == 1 && first != nil {
			rest := each
			each = func(r roster.Row) {
				first(r)
				rest(r)
			}
		}
		f, err := readRows(body, contentType, each)
		if err != nil {
			readErr = err
		}
		return f, err
	}, directory{s.store}, actor)
	if readErr != nil {
		return nil, readErr
	}
	if err != nil {
		return nil, fmt.Errorf("imports: plan: %w", err)
	}
	return res, nil
}

// Start plans the whole file and, when no row has an error, creates its
// new schools and an import task whose chunks the worker applies; a file
// with any error is refused whole (import_invalid) with nothing written.
//
// It holds the file's bytes but never its rows: it reads the file three
// times, as the dry run does twice (roster.SummarizeRows: the first
// reading also keeps the file's guardian links, see links.go), and the
// third writes the chunks as their rows come, a few at once, so that its
// memory does not grow with the file but for the links it names.
func (s *Service) Start(ctx context.Context, actor rekey.User, src Source, requestID string) (rekey.Task, error) {
	if !mayImport(actor) {
		return rekey.Task{}, errForbidden
	}
	body, contentType, sourceKey, err := s.body(ctx, actor, src)
	if err != nil {
		return rekey.Task{}, err
	}
	links := newLinkIndex()
	res, err := s.plan(ctx, actor, body, contentType, links.add)
	if err != nil {
		return rekey.Task{}, err
	}
	if err := res.Err(); err != nil {
		return rekey.Task{}, err
	}
	for _, sc := range res.Schools {
		if err := s.store.PutSchool(ctx, sc.School); err != nil {
			return rekey.Task{}, fmt.Errorf("imports: school %s: %w", sc.School.Name, err)
		}
	}
	now := s.now()
	id := rekey.NewID()
	chunks, total, f, err := s.writeChunks(ctx, id, now, body, contentType, links)
	if err != nil {
		return rekey.Task{}, err
	}
	orgs, err := json.Marshal(f.Orgs)
	if err != nil {
		return rekey.Task{}, fmt.Errorf("imports: encode orgs: %w", err)
	}
	rec := rekey.TaskRecord{
		Task: rekey.Task{
			ID: id, Kind: rekey.TaskKindImport, Name: TaskName(f.Format, total), Status: rekey.TaskRunning, DistrictID: actor.DistrictID,
			Selection: rekey.Selection{UserIDs: []string{}}, Total: total, CreatedBy: actor.ID, CreatedAt: now,
		},
		CreatorRole: actor.Role, CreatorSchoolID: actor.SchoolID, RequestID: requestID, StartedAt: now,
		Plan: rekey.TaskPlan{Chunks: chunks, Enqueued: chunks, Done: true},
	}
	counts := rekey.ImportCounts{Create: res.Summary.Create, Update: res.Summary.Update, Unchanged: res.Summary.Unchanged,
		Disable: res.Summary.Disable, SchoolsCreate: res.Summary.SchoolsCreate}
	rec.Task.ImportCounts = &counts
	job := rekey.ImportJob{
		TaskID: id, DistrictID: actor.DistrictID, ActorID: actor.ID, Format: string(f.Format), Orgs: orgs,
		SourceKey: sourceKey, Chunks: chunks, CreatedAt: now, Counts: counts,
	}
	if err := s.store.CreateImport(ctx, rec, job, startAudit(actor, rec, res.Schools, requestID)); err != nil {
		return rekey.Task{}, fmt.Errorf("imports: create task: %w", err)
	}
	messages := make([]any, chunks)
	for i := range chunks {
		messages[i] = ChunkMessage{TaskID: id, Chunk: i}
	}
	if err := s.queue.SendBatch(ctx, messages); err != nil {
		return rekey.Task{}, fmt.Errorf("imports: queue chunks: %w", err)
	}
	if chunks == 0 && sourceKey != "" {
		s.deleteSource(ctx, sourceKey)
	}
	return rec.Task, nil
}

// chunkWriters is how many chunks Start writes at once: 200 chunks of a
// 50,000-row file one after another would be 200 round trips of the 29 s
// an API Lambda has; eight keep the chunks held at once (some 60 KB of
// JSON each) few.
const chunkWriters = 8

// writeChunks reads the file once more and stores its rows, with their
// links mirrored (links.mirror), RowsPerChunk at a time as they come,
// up to chunkWriters chunks being written at once: those chunks' rows are
// all it holds. It returns the number of chunks and rows, and the file
// (its orgs and format, no rows), once every chunk is written. The chunks
// are written before the task that names them (CreateImport), so a start
// that fails midway (the first failure stops the rest) leaves only chunks
// no task refers to, which expire.
func (s *Service) writeChunks(ctx context.Context, id string, createdAt time.Time, body []byte, contentType string, links *linkIndex) (int, int, *roster.File, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(chunkWriters)
	rows := make([]roster.Row, 0, s.chunk)
	chunks, total := 0, 0
	var encodeErr error
	stopped := func() bool { return encodeErr != nil || gctx.Err() != nil }
	flush := func() {
		data, err := json.Marshal(rows)
		if err != nil {
			encodeErr = fmt.Errorf("imports: encode rows: %w", err)
			return
		}
		chunk := rekey.ImportChunk{TaskID: id, Index: chunks, Rows: data}
		chunks, total, rows = chunks+1, total+len(rows), rows[:0]
		g.Go(func() error { // waits while chunkWriters writes are in flight
			if err := s.store.PutImportChunk(gctx, id, createdAt, chunk); err != nil {
				return fmt.Errorf("imports: create task: %w", err)
			}
			return nil
		})
	}
	f, err := readRows(body, contentType, func(r roster.Row) {
		if stopped() {
			return
		}
		if rows = append(rows, links.mirror(r)); len(rows) == s.chunk {
			flush()
		}
	})
	if err == nil && !stopped() && len(rows) > 0 {
		flush()
	}
	writeErr := g.Wait()
	switch {
	case err != nil:
		return 0, 0, nil, err
	case encodeErr != nil:
		return 0, 0, nil, encodeErr
	case writeErr != nil:
		return 0, 0, nil, writeErr
	case ctx.Err() != nil:
		return 0, 0, nil, fmt.Errorf("imports: create task: %w", ctx.Err())
	}
	return chunks, total, f, nil
}

// deleteSource removes an uploaded file once its import is done; a
// failure is logged only (the bucket's lifecycle rule removes it a day
// later anyway).
func (s *Service) deleteSource(ctx context.Context, key string) {
	if s.files == nil || key == "" {
		return
	}
	if err := s.files.Delete(ctx, key); err != nil {
		s.log.WarnContext(ctx, "imports: delete uploaded file", "error", err)
	}
}

// Details is GET /api/imports/{id}: the task, the plan's counts and one
// page of per-row results (a chunk's worth; next is the following chunk,
// -1 at the end).
type Details struct {
	Task    rekey.Task              `json:"task"`
	Counts  rekey.ImportCounts      `json:"counts"`
	Results []rekey.ImportRowResult `json:"results"`
	Next    int                     `json:"-"`
}

// Get returns import id with the results of chunk `chunk`, to those who
// may see it now (canSee): district admins of its district, and school
// admins of the school of a school admin's import.
func (s *Service) Get(ctx context.Context, actor rekey.User, id string, chunk int) (Details, error) {
	rec, err := s.store.GetTask(ctx, id)
	if errors.Is(err, rekey.ErrNotFound) || err == nil && (rec.Task.Kind != rekey.TaskKindImport || !canSee(actor, rec)) {
		return Details{}, rekey.ErrNotFound
	}
	if err != nil {
		return Details{}, fmt.Errorf("imports: get %s: %w", id, err)
	}
	job, err := s.store.GetImport(ctx, id)
	if err != nil {
		return Details{}, fmt.Errorf("imports: get %s: %w", id, err)
	}
	d := Details{Task: rec.Task, Counts: job.Counts, Results: []rekey.ImportRowResult{}, Next: -1}
	if rec.Plan.Done && rec.Task.Processed >= rec.Task.Total && rec.Task.Status == rekey.TaskRunning {
		d.Task.Status = rekey.TaskCompleted
		if rec.Task.Failed > 0 {
			d.Task.Status = rekey.TaskCompletedWithErrors
		}
		d.Task.FinishedAt = rec.LastProcessedAt
	}
	if chunk < 0 || chunk >= job.Chunks {
		return d, nil
	}
	c, err := s.store.GetImportChunk(ctx, id, chunk)
	if err != nil {
		return Details{}, fmt.Errorf("imports: get %s: %w", id, err)
	}
	if c.Results != nil {
		d.Results = c.Results
	}
	if chunk+1 < job.Chunks {
		d.Next = chunk + 1
	}
	return d, nil
}

// canSee: support, district admins of the district, school admins for
// imports of their school's admins — each as they are now. An import's
// rows name users of the place it was made for (usernames, ids, emails
// before and after), and they are not filtered row by row, so having
// started it grants nothing by itself (SECURITY.md 21): a creator moved to
// another school, or no longer an admin, loses it with the place.
func canSee(actor rekey.User, rec rekey.TaskRecord) bool {
	if _, ok := authz.ListScope(actor); !ok {
		return false
	}
	switch {
	case actor.Role == rekey.RoleSupport:
		return true
	case actor.Role == rekey.RoleDistrictAdmin:
		return actor.DistrictID == rec.Task.DistrictID
	case actor.Role == rekey.RoleSchoolAdmin:
		return actor.DistrictID == rec.Task.DistrictID && rec.CreatorRole == rekey.RoleSchoolAdmin && rec.CreatorSchoolID == actor.SchoolID
	}
	return false
}

// rowUserID is the id of the user a row of an import creates: the same
// for every attempt at the row, so that retries collide instead of
// creating the user twice.
func rowUserID(taskID, file string, row int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("import/%s/%s/%d", taskID, file, row)))
	return "imp" + strings.ToLower(fmt.Sprintf("%x", sum[:14]))
}

// ErrTooLarge answers a body over MaxDirectBytes.
var ErrTooLarge = &rekey.Error{Code: rekey.ECodeUseUpload,
	Message: "The file is larger than 5 MB: upload it with POST /api/imports/uploads, then start the import with its importId."}

// TaskName is what an import task is called in the task centre: what was
// imported and how many rows, e.g. "Roster import · OneRoster 1.1 bundle ·
// 5,001 rows", so that a district's imports can be told apart from its
// resets and from each other.
func TaskName(format roster.Format, rows int) string {
	what := "Users CSV import"
	if format == roster.FormatOneRoster {
		what = "Roster import · OneRoster 1.1 bundle"
	}
	unit := "rows"
	if rows == 1 {
		unit = "row"
	}
	return what + " · " + groupThousands(rows) + " " + unit
}

// groupThousands writes n with commas between groups of three digits.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// startAudit is the audit entry of an import's start: who imported what,
// the plan's counts, and the schools the import created (written just
// before, named here so that each new school has its record of who made
// it and why).
func startAudit(actor rekey.User, rec rekey.TaskRecord, schools []roster.SchoolChange, requestID string) rekey.AuditEntry {
	c := rec.Task.ImportCounts
	detail := fmt.Sprintf("%s: create %d, update %d, unchanged %d, disable %d", rec.Task.Name, c.Create, c.Update, c.Unchanged, c.Disable)
	if len(schools) > 0 {
		names := make([]string, len(schools))
		for i, sc := range schools {
			names[i] = sc.School.Name
		}
		detail += "; new schools: " + strings.Join(names, ", ")
	}
	return rekey.AuditEntry{
		ID: rekey.NewID(), At: rec.Task.CreatedAt, DistrictID: actor.DistrictID, ActorID: actor.ID, ActorName: actor.FullName(),
		TargetID: rec.Task.ID, Action: rekey.ActionImportStart, Outcome: rekey.OutcomeSuccess, RequestID: requestID, Detail: detail,
	}
}
