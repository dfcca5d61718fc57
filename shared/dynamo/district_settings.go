package dynamo

import (
	"context"

	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

func newDistrictItem(d rekey.District) districtItem {
	p := d.Policy
	return districtItem{
		PK: districtPrefix + d.ID, SK: districtSK, ID: d.ID, Name: d.Name,
		Policy:           policyItem{MinLengthStaff: p.MinLengthStaff, MinLengthStudent: p.MinLengthStudent, MaxLength: p.MaxLength},
		StaffMinRaisedAt: storedTime{p.StaffRaisedAt}, StudentMinRaisedAt: storedTime{p.StudentRaisedAt},
		ApprovalThreshold: d.ApprovalThreshold, KidFriendlyMaxGrade: d.KidFriendlyMaxGrade,
		Timezone: d.Timezone, Version: d.Version,
	}
}

func (it districtItem) district() rekey.District {
	p := it.Policy
	return rekey.District{
		ID: it.ID, Name: it.Name,
		Policy: rekey.PasswordPolicy{
			MinLengthStaff: p.MinLengthStaff, MinLengthStudent: p.MinLengthStudent, MaxLength: p.MaxLength,
			StaffRaisedAt: it.StaffMinRaisedAt.Time, StudentRaisedAt: it.StudentMinRaisedAt.Time,
		},
		ApprovalThreshold: it.ApprovalThreshold, KidFriendlyMaxGrade: it.KidFriendlyMaxGrade,
		Timezone: it.Timezone, Version: it.Version,
	}
}

// UpdateDistrict replaces the stored district with after, provided its
// stored version still equals before.Version (a district written before
// settings existed has none, which counts as 0), and writes audit (when not
// nil) in the same transaction. Errors: rekey.ErrVersionConflict (stale or
// missing district).
func (s *Store) UpdateDistrict(ctx context.Context, before, after rekey.District, audit *rekey.AuditEntry) error {
	if err := s.updateDistrict(ctx, before, after, audit); err != nil {
		return fmt.Errorf("dynamo: update district %s: %w", before.ID, err)
	}
	return nil
}

func (s *Store) updateDistrict(ctx context.Context, before, after rekey.District, audit *rekey.AuditEntry) error {
	if err := rekey.CheckNextVersion(before.ID, after.ID, before.Version, after.Version); err != nil {
		return err
	}
	cond := expression.Name("version").Equal(expression.Value(before.Version))
	if before.Version == 0 {
		cond = expression.AttributeExists(expression.Name("PK")).And(expression.AttributeNotExists(expression.Name("version")))
	}
	var tx transaction
	step, err := s.txPut(newDistrictItem(after), cond)
	tx.add(step, err, rekey.ErrVersionConflict)
	if audit != nil {
		s.addAudit(&tx, *audit)
	}
	if err := s.transact(ctx, &tx); err != nil {
		return err
	}
	return nil
}
