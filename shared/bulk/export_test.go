package bulk

import (
	"context"

	"github.com/rekey/rekey/shared/rekey"
)

// FunnelOf works out rec's funnel now with up to inFlight pages of chunks
// read at once, never the remembered one: for comparing the concurrent
// pass with the sequential one.
func (s *Service) FunnelOf(ctx context.Context, rec rekey.TaskRecord, inFlight int) (*rekey.Funnel, error) {
	return s.funnel(ctx, rec, s.now(), inFlight)
}

// FunnelPagesInFlight is funnelPagesInFlight, for tests of the bound.
const FunnelPagesInFlight = funnelPagesInFlight
