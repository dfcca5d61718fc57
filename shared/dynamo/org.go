package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/rekey/rekey/shared/rekey"
)

// Key prefixes of districts and schools.
const (
	districtPrefix  = "DISTRICT#"
	districtSK      = "DISTRICT"
	schoolPrefix    = "SCHOOL#"
	schoolSK        = "SCHOOL"
	schoolsSuffix   = "#SCHOOLS"
	schoolListIndex = "GSI1"
)

type districtItem struct {
	PK     string     `dynamodbav:"PK"`
	SK     string     `dynamodbav:"SK"`
	ID     string     `dynamodbav:"id"`
	Name   string     `dynamodbav:"name"`
	Policy policyItem `dynamodbav:"policy"`
	// The settings (see district_settings.go); a district written before
	// they existed has none of these and version 0.
	ApprovalThreshold   int    `dynamodbav:"approvalThreshold,omitempty"`
	KidFriendlyMaxGrade int    `dynamodbav:"kidFriendlyMaxGrade,omitempty"`
	Timezone            string `dynamodbav:"timezone,omitempty"`
	Version             int    `dynamodbav:"version,omitempty"`
	// When a minimum length was last raised (rekey.PasswordPolicy).
	StaffMinRaisedAt   storedTime `dynamodbav:"staffMinRaisedAt,omitempty"`
	StudentMinRaisedAt storedTime `dynamodbav:"studentMinRaisedAt,omitempty"`
}

// policyItem is a district's password policy; zero means "the default".
type policyItem struct {
	MinLengthStaff   int `dynamodbav:"minLengthStaff,omitempty"`
	MinLengthStudent int `dynamodbav:"minLengthStudent,omitempty"`
	MaxLength        int `dynamodbav:"maxLength,omitempty"`
}

// schoolItem is a school, listed under its district in GSI1 by name.
type schoolItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	GSI1PK     string `dynamodbav:"GSI1PK"`
	GSI1SK     string `dynamodbav:"GSI1SK"`
	ID         string `dynamodbav:"id"`
	DistrictID string `dynamodbav:"districtId"`
	Name       string `dynamodbav:"name"`
	SSO        bool   `dynamodbav:"sso"`
	SSOURL     string `dynamodbav:"ssoUrl,omitempty"`
	// ExternalID is the school's OneRoster sourcedId, so that a
	// re-imported roster finds the school instead of creating it again.
	ExternalID string `dynamodbav:"externalId,omitempty"`
}

func schoolsOf(districtID string) string { return districtGSI + districtID + schoolsSuffix }

// PutDistrict creates or replaces a district.
func (s *Store) PutDistrict(ctx context.Context, d rekey.District) error {
	if d.ID == "" {
		return errors.New("dynamo: put district: id is required")
	}
	if err := s.putItem(ctx, newDistrictItem(d), nil, nil); err != nil {
		return fmt.Errorf("dynamo: put district %s: %w", d.ID, err)
	}
	return nil
}

// GetDistrict returns the district with the given id, or rekey.ErrNotFound.
func (s *Store) GetDistrict(ctx context.Context, id string) (rekey.District, error) {
	var it districtItem
	if err := s.getItem(ctx, districtPrefix+id, districtSK, &it); err != nil {
		return rekey.District{}, fmt.Errorf("dynamo: get district %s: %w", id, err)
	}
	return it.district(), nil
}

// PutSchool creates or replaces a school.
func (s *Store) PutSchool(ctx context.Context, sc rekey.School) error {
	if sc.ID == "" || sc.DistrictID == "" {
		return errors.New("dynamo: put school: id and district id are required")
	}
	it := schoolItem{
		PK: schoolPrefix + sc.ID, SK: schoolSK,
		GSI1PK: schoolsOf(sc.DistrictID), GSI1SK: strings.ToLower(sc.Name) + "#" + sc.ID,
		ID: sc.ID, DistrictID: sc.DistrictID, Name: sc.Name, SSO: sc.SSO, SSOURL: sc.SSOURL,
		ExternalID: sc.ExternalID,
	}
	if err := s.putItem(ctx, it, nil, nil); err != nil {
		return fmt.Errorf("dynamo: put school %s: %w", sc.ID, err)
	}
	return nil
}

// GetSchool returns the school with the given id, or rekey.ErrNotFound.
func (s *Store) GetSchool(ctx context.Context, id string) (rekey.School, error) {
	var it schoolItem
	if err := s.getItem(ctx, schoolPrefix+id, schoolSK, &it); err != nil {
		return rekey.School{}, fmt.Errorf("dynamo: get school %s: %w", id, err)
	}
	return it.school(), nil
}

func (it schoolItem) school() rekey.School {
	return rekey.School{ID: it.ID, DistrictID: it.DistrictID, Name: it.Name, SSO: it.SSO, SSOURL: it.SSOURL, ExternalID: it.ExternalID}
}

// ListSchools returns every school of a district, ordered by name
// (case-insensitively). A district without schools gives an empty list.
func (s *Store) ListSchools(ctx context.Context, districtID string) ([]rekey.School, error) {
	query, err := s.newQuery(schoolListIndex, expression.Key("GSI1PK").Equal(expression.Value(schoolsOf(districtID))), nil, false)
	if err != nil {
		return nil, fmt.Errorf("dynamo: list schools of %s: %w", districtID, err)
	}
	schools := []rekey.School{}
	pages := dynamodb.NewQueryPaginator(s.db, query)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("dynamo: list schools of %s: %w", districtID, err)
		}
		for _, item := range page.Items {
			var it schoolItem
			if err := unmarshalItem(item, &it); err != nil {
				return nil, fmt.Errorf("dynamo: list schools of %s: %w", districtID, err)
			}
			schools = append(schools, it.school())
		}
	}
	return schools, nil
}
