package memstore

import (
	"context"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// UpdateDistrict replaces the stored district with after, provided its
// stored version still equals before.Version, writing audit (when not nil)
// in the same step. Errors: rekey.ErrVersionConflict (stale or missing
// district).
func (s *Store) UpdateDistrict(_ context.Context, before, after rekey.District, audit *rekey.AuditEntry) error {
	if err := rekey.CheckNextVersion(before.ID, after.ID, before.Version, after.Version); err != nil {
		return fmt.Errorf("memstore: update district %s: %w", before.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.districts[before.ID]
	if !ok || stored.Version != before.Version {
		return fmt.Errorf("memstore: update district %s: %w", before.ID, rekey.ErrVersionConflict)
	}
	s.districts[after.ID] = after
	s.addAudit(audit)
	return nil
}
