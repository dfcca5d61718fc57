package bulk

import (
	"context"
	"sync"

	"github.com/rekey/rekey/shared/rekey"
)

// placeMemo is the Service's store for one request that reads each
// district and school at most once. Starting a task checks the
// selection's school, names the task after it, and reads the creator's
// district for its password policy and again for its kid-friendly grade
// limit: five reads of two items before, two now. A read that failed
// otherwise than not found is not remembered.
type placeMemo struct {
	taskStore
	mu        sync.Mutex
	districts map[string]placeRead[rekey.District]
	schools   map[string]placeRead[rekey.School]
}

type placeRead[T any] struct {
	v   T
	err error
}

// withPlaceMemo returns s for one request: the same, with its store's
// district and school reads remembered (placeMemo).
func (s *Service) withPlaceMemo() *Service {
	c := *s
	c.store = &placeMemo{taskStore: s.store, districts: map[string]placeRead[rekey.District]{}, schools: map[string]placeRead[rekey.School]{}}
	return &c
}

func (m *placeMemo) GetDistrict(ctx context.Context, id string) (rekey.District, error) {
	return remember(ctx, &m.mu, m.districts, id, m.taskStore.GetDistrict)
}

func (m *placeMemo) GetSchool(ctx context.Context, id string) (rekey.School, error) {
	return remember(ctx, &m.mu, m.schools, id, m.taskStore.GetSchool)
}

// remember returns what read answered for id the first time it answered
// with the item or not found, reading it otherwise.
func remember[T any](ctx context.Context, mu *sync.Mutex, seen map[string]placeRead[T], id string, read func(context.Context, string) (T, error)) (T, error) {
	mu.Lock()
	r, ok := seen[id]
	mu.Unlock()
	if ok {
		return r.v, r.err
	}
	v, err := read(ctx, id)
	if err == nil || rekey.ErrorCode(err) == rekey.ECodeNotFound {
		mu.Lock()
		seen[id] = placeRead[T]{v: v, err: err}
		mu.Unlock()
	}
	return v, err
}
