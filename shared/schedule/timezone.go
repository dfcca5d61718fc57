package schedule

import (
	"context"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// districtReader reads the district whose time zone a schedule that names
// none runs in.
type districtReader interface {
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
}

// defaultTimezone is the time zone of a new schedule that names none: its
// district's (the district settings), or rekey.DefaultTimezone for a
// schedule of no district (support's) or a district that has none.
func (s *Service) defaultTimezone(ctx context.Context, districtID string) (string, error) {
	if districtID == "" {
		return rekey.DefaultTimezone, nil
	}
	d, err := s.store.GetDistrict(ctx, districtID)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		return rekey.DefaultTimezone, nil
	case err != nil:
		return "", fmt.Errorf("schedule: read district time zone: %w", err)
	}
	return d.Settings().Timezone, nil
}
