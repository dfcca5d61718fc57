package api

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule"
)

// fakeSchedules is a ScheduleService that keeps schedules in a map, visible
// to their creator only, and refuses the default_password delivery.
type fakeSchedules struct {
	mu    sync.Mutex
	items map[string]rekey.Schedule
	order []string
}

func (f *fakeSchedules) Create(_ context.Context, actor rekey.User, in schedule.Input, _ string) (rekey.Schedule, error) {
	if in.Delivery.Mode == rekey.DeliverDefaultPassword {
		return rekey.Schedule{}, rekey.FieldError(rekey.ECodeInvalidInput, "delivery.mode", "A saved schedule must not hold a password.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sc := rekey.Schedule{ID: rekey.NewID(), Name: in.Name, Expression: in.Expression, Timezone: in.Timezone,
		Selection: in.Selection, Delivery: in.Delivery, Enabled: true, CreatedBy: actor.ID, Version: 1}
	f.items[sc.ID] = sc
	f.order = append(f.order, sc.ID)
	return sc, nil
}

func (f *fakeSchedules) List(_ context.Context, actor rekey.User, limit int, cursor string) (rekey.SchedulePage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var page rekey.SchedulePage
	started := cursor == ""
	for _, id := range f.order {
		sc, ok := f.items[id]
		if !ok || sc.CreatedBy != actor.ID {
			continue
		}
		if !started {
			started = id == cursor
			continue
		}
		if limit > 0 && len(page.Items) == limit {
			page.Next = page.Items[len(page.Items)-1].ID
			break
		}
		page.Items = append(page.Items, sc)
	}
	return page, nil
}

func (f *fakeSchedules) Get(_ context.Context, actor rekey.User, id string) (rekey.Schedule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sc, ok := f.items[id]
	if !ok || sc.CreatedBy != actor.ID {
		return rekey.Schedule{}, rekey.ErrNotFound
	}
	return sc, nil
}

func (f *fakeSchedules) Update(ctx context.Context, actor rekey.User, id string, patch schedule.Patch, _ string) (rekey.Schedule, error) {
	sc, err := f.Get(ctx, actor, id)
	if err != nil {
		return sc, err
	}
	if patch.Version == nil {
		return sc, rekey.FieldError(rekey.ECodeInvalidInput, "version", "Send the version.")
	}
	if *patch.Version != sc.Version {
		return sc, rekey.ErrVersionConflict
	}
	if patch.Enabled != nil {
		sc.Enabled = *patch.Enabled
	}
	sc.Version++
	f.mu.Lock()
	f.items[id] = sc
	f.mu.Unlock()
	return sc, nil
}

func (f *fakeSchedules) Delete(ctx context.Context, actor rekey.User, id, _ string) error {
	if _, err := f.Get(ctx, actor, id); err != nil {
		return err
	}
	f.mu.Lock()
	delete(f.items, id)
	f.mu.Unlock()
	return nil
}

// Approve refuses the creator (the only one who sees a schedule here).
func (f *fakeSchedules) Approve(ctx context.Context, actor rekey.User, id, _ string) (rekey.Schedule, error) {
	if _, err := f.Get(ctx, actor, id); err != nil {
		return rekey.Schedule{}, err
	}
	return rekey.Schedule{}, &rekey.Error{Code: rekey.ECodeSelfApproval, Message: "Another administrator must approve it."}
}

func newScheduleAPI(t *testing.T) *testAPI {
	t.Helper()
	a := newTestAPI(t)
	authService := auth.NewService(auth.Config{}, auth.Deps{Store: a.store, Throttles: a.store, Hasher: fastHasher{}, Now: a.clock.Now})
	server := New(Deps{Auth: authService, Secrets: a.store, Schedules: &fakeSchedules{items: map[string]rekey.Schedule{}}})
	a.h = server.Handler(FunctionAuth, FunctionSchedules)
	return a
}

func TestSchedulesAPI(t *testing.T) {
	a := newScheduleAPI(t)
	s := a.login("district.admin")
	body := `{"name":"Autumn","expression":"cron(0 7 1 9 ? *)","timezone":"Europe/London",
		"selection":{"mode":"without_role","userIds":[],"schoolId":"s1"},"delivery":{"mode":"email_link"}}`
	rec := a.do("POST", "/api/schedules", body, s.bearer()...)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /api/schedules = %d %s, want 201", rec.Code, rec.Body)
	}
	created := decode[rekey.Schedule](t, rec)
	if created.ID == "" || created.Name != "Autumn" || created.Version != 1 {
		t.Errorf("created = %+v", created)
	}
	for range 2 {
		a.do("POST", "/api/schedules", body, s.bearer()...)
	}

	// Pages with signed cursors, bound to the caller.
	rec = a.do("GET", "/api/schedules?limit=2", "", s.bearer()...)
	first := decode[listResponse[rekey.Schedule]](t, rec)
	if rec.Code != http.StatusOK || len(first.Items) != 2 || first.NextCursor == nil {
		t.Fatalf("GET /api/schedules?limit=2 = %d %s, want 2 items and a cursor", rec.Code, rec.Body)
	}
	rec = a.do("GET", "/api/schedules?limit=2&cursor="+*first.NextCursor, "", s.bearer()...)
	second := decode[listResponse[rekey.Schedule]](t, rec)
	if rec.Code != http.StatusOK || len(second.Items) != 1 || second.NextCursor != nil {
		t.Errorf("second page = %d %s, want 1 item, no cursor", rec.Code, rec.Body)
	}
	other := a.login("teacher.one")
	wantError(t, a.do("GET", "/api/schedules?cursor="+*first.NextCursor, "", other.bearer()...), 400, rekey.ECodeInvalidCursor, "")
	wantError(t, a.do("GET", "/api/schedules?page=2", "", s.bearer()...), 400, rekey.ECodeUnknownField, "page")
	if rec := a.do("GET", "/api/schedules", "", other.bearer()...); rec.Code != 200 || rec.Body.String() != "{\"items\":[],\"nextCursor\":null}\n" {
		t.Errorf("empty list = %d %s, want items [] and nextCursor null", rec.Code, rec.Body)
	}

	rec = a.do("GET", "/api/schedules/"+created.ID, "", s.bearer()...)
	if rec.Code != http.StatusOK || decode[rekey.Schedule](t, rec).ID != created.ID {
		t.Errorf("GET /api/schedules/{id} = %d %s", rec.Code, rec.Body)
	}
	wantError(t, a.do("GET", "/api/schedules/"+created.ID, "", other.bearer()...), 404, rekey.ECodeNotFound, "")
	wantError(t, a.do("GET", "/api/schedules/bad%20id", "", s.bearer()...), 400, rekey.ECodeInvalidID, "")

	rec = a.do("PATCH", "/api/schedules/"+created.ID, `{"enabled":false,"version":1}`, s.bearer()...)
	if rec.Code != http.StatusOK || decode[rekey.Schedule](t, rec).Enabled {
		t.Errorf("PATCH pause = %d %s, want 200 paused", rec.Code, rec.Body)
	}
	wantError(t, a.do("PATCH", "/api/schedules/"+created.ID, `{"enabled":true,"version":1}`, s.bearer()...), 409, rekey.ECodeVersionConflict, "")
	wantError(t, a.do("PATCH", "/api/schedules/"+created.ID, `{"enabled":true}`, s.bearer()...), 422, rekey.ECodeInvalidInput, "version")
	wantError(t, a.do("PATCH", "/api/schedules/"+created.ID, `{"expression":null,"version":2}`, s.bearer()...), 422, rekey.ECodeInvalidInput, "expression")
	wantError(t, a.do("PATCH", "/api/schedules/"+created.ID, `{"createdBy":"x","version":2}`, s.bearer()...), 400, rekey.ECodeUnknownField, "createdBy")

	wantError(t, a.do("POST", "/api/schedules", `{"name":"x","delivery":{"mode":"default_password","defaultPassword":"a long passphrase here"}}`, s.bearer()...),
		422, rekey.ECodeInvalidInput, "delivery.mode")
	wantError(t, a.do("POST", "/api/schedules", `{"name":"x","selection":{"mode":"all","extra":1}}`, s.bearer()...), 400, rekey.ECodeUnknownField, "extra")
	wantError(t, a.do("POST", "/api/schedules", `{"name":1}`, s.bearer()...), 400, rekey.ECodeInvalidJSON, "name")

	wantError(t, a.do("POST", "/api/schedules/"+created.ID+"/approve", "", s.bearer()...), 403, rekey.ECodeSelfApproval, "")
	wantError(t, a.do("POST", "/api/schedules/"+created.ID+"/approve", "", other.bearer()...), 404, rekey.ECodeNotFound, "")

	rec = a.do("DELETE", "/api/schedules/"+created.ID, "", s.bearer()...)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Errorf("DELETE = %d %q, want 204 and no body", rec.Code, rec.Body)
	}
	wantError(t, a.do("DELETE", "/api/schedules/"+created.ID, "", s.bearer()...), 404, rekey.ECodeNotFound, "")
	wantError(t, a.do("PUT", "/api/schedules/"+created.ID, "{}", s.bearer()...), 405, rekey.ECodeMethodNotAllowed, "")
	wantError(t, a.do("GET", "/api/schedules", ""), 401, rekey.ECodeUnauthenticated, "")
}
