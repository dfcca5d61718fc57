package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// Key prefixes and fixed sort keys of user items and their claims.
const (
	userPrefix     = "USER#"
	userSK         = "USER"
	usernamePrefix = "USERNAME#"
	emailPrefix    = "EMAIL#"
	externalPrefix = "EXTID#"
	claimSK        = "CLAIM"
	districtGSI    = "DIST#"
	schoolGSI      = "SCHOOL#"
	rolePrefix     = "ROLE#"
)

// userItem is a user as stored: every domain field, secrets included (the
// domain struct hides those from JSON, so its tags are not used here), plus
// the index keys and the lower-cased search text.
type userItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK string `dynamodbav:"GSI2SK,omitempty"`

	ID                 string     `dynamodbav:"id"`
	DistrictID         string     `dynamodbav:"districtId,omitempty"`
	SchoolID           string     `dynamodbav:"schoolId,omitempty"`
	Role               string     `dynamodbav:"role"`
	FirstName          string     `dynamodbav:"firstName,omitempty"`
	LastName           string     `dynamodbav:"lastName,omitempty"`
	Username           string     `dynamodbav:"username"`
	Email              string     `dynamodbav:"email,omitempty"`
	Grade              string     `dynamodbav:"grade,omitempty"`
	Title              string     `dynamodbav:"title,omitempty"`
	ExternalID         string     `dynamodbav:"externalId,omitempty"`
	Status             string     `dynamodbav:"status"`
	MustChangePassword bool       `dynamodbav:"mustChangePassword"`
	PasswordChangedAt  storedTime `dynamodbav:"passwordChangedAt,omitempty"`
	Version            int        `dynamodbav:"version"`
	CreatedAt          storedTime `dynamodbav:"createdAt,omitempty"`
	UpdatedAt          storedTime `dynamodbav:"updatedAt,omitempty"`
	PasswordHash       string     `dynamodbav:"passwordHash,omitempty"`
	PasswordMinLength  int        `dynamodbav:"passwordMinLength,omitempty"`
	VoidedPasswordHash string     `dynamodbav:"voidedPasswordHash,omitempty"`
	SessionGen         int        `dynamodbav:"sessionGen"`
	ResetTokenHash     string     `dynamodbav:"resetTokenHash,omitempty"`
	ResetID            string     `dynamodbav:"resetId,omitempty"`
	ResetPurpose       string     `dynamodbav:"resetPurpose,omitempty"`
	ResetEmail         string     `dynamodbav:"resetEmail,omitempty"`
	ResetBy            string     `dynamodbav:"resetBy,omitempty"`
	ResetCreatedAt     storedTime `dynamodbav:"resetCreatedAt,omitempty"`
	ResetExpiresAt     storedTime `dynamodbav:"resetExpiresAt,omitempty"`
	SelfResetID        string     `dynamodbav:"selfResetId,omitempty"`
	SelfResetEmail     string     `dynamodbav:"selfResetEmail,omitempty"`
	SelfResetCreatedAt storedTime `dynamodbav:"selfResetCreatedAt,omitempty"`
	SelfResetExpiresAt storedTime `dynamodbav:"selfResetExpiresAt,omitempty"`
	SelfResetTokenHash string     `dynamodbav:"selfResetTokenHash,omitempty"`
	SpentTokenHash     string     `dynamodbav:"spentResetTokenHash,omitempty"`
	GuardianOf         []string   `dynamodbav:"guardianOf,omitempty"`
	Guardians          []string   `dynamodbav:"guardians,omitempty"`
	ParentCodeHash     string     `dynamodbav:"parentCodeHash,omitempty"`
	ParentCodeSealed   []byte     `dynamodbav:"parentCodeSealed,omitempty"`
	ParentCodeKey      []byte     `dynamodbav:"parentCodeKey,omitempty"`
	ParentCodeExpires  storedTime `dynamodbav:"parentCodeExpiresAt,omitempty"`
	// Search is what a listing's text query matches within.
	Search string `dynamodbav:"search"`
}

// claimItem reserves a username or email address for one user.
type claimItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	UserID string `dynamodbav:"userId"`
}

func userPK(id string) string { return userPrefix + id }

func usernamePK(username string) string { return usernamePrefix + strings.ToLower(username) }

func emailPK(email string) string { return emailPrefix + strings.ToLower(email) }

// externalPK is the key of the claim on an externalId within a district
// (EXTID#<districtId>#<externalId>): external ids are unique per district
// only, and kept as given (student information systems' ids are
// case-sensitive). A user without a district or externalId has none.
func externalPK(districtID, externalID string) string {
	if districtID == "" || externalID == "" {
		return ""
	}
	return externalPrefix + districtID + "#" + externalID
}

// userSortKey orders a listing by role, then last and first name; the id
// keeps namesakes apart.
func userSortKey(u rekey.User) string {
	return rolePrefix + string(u.Role) + "#" + strings.ToLower(u.LastName) + "#" + strings.ToLower(u.FirstName) + "#" + u.ID
}

// searchText is the lower-cased text that a listing's query is matched
// within: full name, username and email, one per line so that a query does
// not match across two fields.
func searchText(u rekey.User) string {
	return strings.ToLower(strings.Join([]string{u.FirstName + " " + u.LastName, u.Username, u.Email}, "\n"))
}

func newUserItem(u rekey.User) userItem {
	it := userItem{
		PK:                 userPK(u.ID),
		SK:                 userSK,
		ID:                 u.ID,
		DistrictID:         u.DistrictID,
		SchoolID:           u.SchoolID,
		Role:               string(u.Role),
		FirstName:          u.FirstName,
		LastName:           u.LastName,
		Username:           u.Username,
		Email:              u.Email,
		Grade:              u.Grade,
		Title:              u.Title,
		ExternalID:         u.ExternalID,
		Status:             string(u.Status),
		MustChangePassword: u.MustChangePassword,
		PasswordChangedAt:  storedTime{u.PasswordChangedAt},
		Version:            u.Version,
		CreatedAt:          storedTime{u.CreatedAt},
		UpdatedAt:          storedTime{u.UpdatedAt},
		PasswordHash:       u.PasswordHash,
		PasswordMinLength:  u.PasswordMinLength,
		VoidedPasswordHash: u.VoidedPasswordHash,
		SessionGen:         u.SessionGen,
		ResetTokenHash:     u.ResetTokenHash,
		ResetID:            u.ResetID,
		ResetPurpose:       u.ResetPurpose,
		ResetEmail:         u.ResetEmail,
		ResetBy:            u.ResetBy,
		ResetCreatedAt:     storedTime{u.ResetCreatedAt},
		ResetExpiresAt:     storedTime{u.ResetExpiresAt},
		SelfResetID:        u.SelfResetID,
		SelfResetEmail:     u.SelfResetEmail,
		SelfResetCreatedAt: storedTime{u.SelfResetCreatedAt},
		SelfResetExpiresAt: storedTime{u.SelfResetExpiresAt},
		SelfResetTokenHash: u.SelfResetTokenHash,
		Search:             searchText(u),
		SpentTokenHash:     u.SpentResetTokenHash,
		GuardianOf:         u.GuardianOf,
		Guardians:          u.Guardians,
		ParentCodeHash:     u.ParentCode.Hash,
		ParentCodeSealed:   u.ParentCode.Sealed,
		ParentCodeKey:      u.ParentCode.SealedKey,
		ParentCodeExpires:  storedTime{u.ParentCode.ExpiresAt},
	}
	// Index keys may not be empty strings: a user without a district or
	// school is simply absent from that index.
	if u.DistrictID != "" {
		it.GSI1PK, it.GSI1SK = districtGSI+u.DistrictID, userSortKey(u)
	}
	if u.SchoolID != "" {
		it.GSI2PK, it.GSI2SK = schoolGSI+u.SchoolID, userSortKey(u)
	}
	return it
}

func (it userItem) user() (rekey.User, error) {
	u := rekey.User{
		ID:                 it.ID,
		DistrictID:         it.DistrictID,
		SchoolID:           it.SchoolID,
		Role:               rekey.Role(it.Role),
		FirstName:          it.FirstName,
		LastName:           it.LastName,
		Username:           it.Username,
		Email:              it.Email,
		Grade:              it.Grade,
		Title:              it.Title,
		ExternalID:         it.ExternalID,
		Status:             rekey.Status(it.Status),
		MustChangePassword: it.MustChangePassword,
		PasswordChangedAt:  it.PasswordChangedAt.Time,
		Version:            it.Version,
		CreatedAt:          it.CreatedAt.Time,
		UpdatedAt:          it.UpdatedAt.Time,
		PasswordHash:       it.PasswordHash,
		PasswordMinLength:  it.PasswordMinLength,
		VoidedPasswordHash: it.VoidedPasswordHash,
		SessionGen:         it.SessionGen,
		ResetTokenHash:     it.ResetTokenHash,
		ResetID:            it.ResetID,
		ResetPurpose:       it.ResetPurpose,
		ResetEmail:         it.ResetEmail,
		ResetBy:            it.ResetBy,
		ResetCreatedAt:     it.ResetCreatedAt.Time,
		ResetExpiresAt:     it.ResetExpiresAt.Time,
		SelfResetID:        it.SelfResetID,
		SelfResetEmail:     it.SelfResetEmail,
		SelfResetCreatedAt: it.SelfResetCreatedAt.Time,
		SelfResetExpiresAt: it.SelfResetExpiresAt.Time,
		SelfResetTokenHash: it.SelfResetTokenHash,
		GuardianOf:         it.GuardianOf,
		Guardians:          it.Guardians,
		ParentCode: rekey.ParentCode{Hash: it.ParentCodeHash, Sealed: it.ParentCodeSealed,
			SealedKey: it.ParentCodeKey, ExpiresAt: it.ParentCodeExpires.Time},
	}
	u.SpentResetTokenHash = it.SpentTokenHash
	return u, nil
}

// GetUser returns the user with the given id, or rekey.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (rekey.User, error) {
	u, err := s.getUser(ctx, id)
	if err != nil {
		return rekey.User{}, fmt.Errorf("dynamo: get user %s: %w", id, err)
	}
	return u, nil
}

func (s *Store) getUser(ctx context.Context, id string) (rekey.User, error) {
	if id == "" {
		return rekey.User{}, rekey.ErrNotFound
	}
	var it userItem
	if err := s.getItem(ctx, userPK(id), userSK, &it); err != nil {
		return rekey.User{}, err
	}
	return it.user()
}

// noUserID is an id no user can have (rekey.ValidID refuses '~').
const noUserID = "~"

// GetUserByUsername returns the user holding username, compared without
// regard to case, or rekey.ErrNotFound.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (rekey.User, error) {
	u, err := s.getUserByClaim(ctx, usernamePK, username, func(u rekey.User) string { return u.Username })
	if err != nil {
		// The username is personal data: it stays out of the error text.
		return rekey.User{}, fmt.Errorf("dynamo: get user by username: %w", err)
	}
	return u, nil
}

// GetUserByEmail returns the user holding email, compared without regard to
// case, or rekey.ErrNotFound.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (rekey.User, error) {
	if email == "" {
		return rekey.User{}, fmt.Errorf("dynamo: get user by email: %w", rekey.ErrNotFound)
	}
	u, err := s.getUserByClaim(ctx, emailPK, email, func(u rekey.User) string { return u.Email })
	if err != nil {
		return rekey.User{}, fmt.Errorf("dynamo: get user by email: %w", err)
	}
	return u, nil
}

// getUserByClaim follows the claim of value (its key made by pk) to its
// user and checks that the user still holds the claimed value.
func (s *Store) getUserByClaim(ctx context.Context, pk func(string) string, value string, claimed func(rekey.User) string) (rekey.User, error) {
	var claim claimItem
	if err := s.getItem(ctx, pk(value), claimSK, &claim); err != nil {
		if errors.Is(err, rekey.ErrNotFound) {
			// Read a user anyway, one that cannot exist, so that a name
			// nobody has costs the same two reads as a name someone has:
			// sign-in must not tell them apart by its timing (SECURITY.md 5).
			_, _ = s.getUser(ctx, noUserID)
		}
		return rekey.User{}, err
	}
	u, err := s.getUser(ctx, claim.UserID)
	if err != nil {
		return rekey.User{}, err
	}
	if pk(claimed(u)) != pk(value) {
		return rekey.User{}, rekey.ErrNotFound
	}
	return u, nil
}

// CreateUser writes u (the caller sets ID, Version 1 and the timestamps)
// together with its username and email claims and, when audit is not nil,
// the audit entry, in one transaction. A clash is rekey.ErrUsernameTaken or
// rekey.ErrEmailTaken (checked in that order); an existing id is
// rekey.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u rekey.User, audit *rekey.AuditEntry) error {
	if err := s.createUser(ctx, u, audit); err != nil {
		return fmt.Errorf("dynamo: create user %s: %w", u.ID, err)
	}
	return nil
}

func (s *Store) createUser(ctx context.Context, u rekey.User, audit *rekey.AuditEntry) error {
	var tx transaction
	if err := s.addCreate(&tx, u); err != nil {
		return err
	}
	if audit != nil {
		s.addAudit(&tx, *audit)
	}
	return s.transact(ctx, &tx)
}

// addCreate adds the steps that create u with its username, email and
// externalId claims (CreateUser's and the import's batches).
func (s *Store) addCreate(tx *transaction, u rekey.User) error {
	if u.ID == "" || u.Username == "" {
		return errors.New("user id and username are required")
	}
	absent := expression.AttributeNotExists(expression.Name("PK"))
	step, err := s.txPut(newUserItem(u), absent)
	tx.add(step, err, rekey.ErrConflict)
	step, err = s.txPut(claimItem{PK: usernamePK(u.Username), SK: claimSK, UserID: u.ID}, absent)
	tx.add(step, err, rekey.ErrUsernameTaken)
	if u.Email != "" {
		step, err = s.txPut(claimItem{PK: emailPK(u.Email), SK: claimSK, UserID: u.ID}, absent)
		tx.add(step, err, rekey.ErrEmailTaken)
	}
	if pk := externalPK(u.DistrictID, u.ExternalID); pk != "" {
		step, err = s.txPut(claimItem{PK: pk, SK: claimSK, UserID: u.ID}, absent)
		tx.add(step, err, rekey.ErrExternalIDTaken)
	}
	return nil
}

// UpdateUser replaces the stored user with after, provided the stored
// version still equals before.Version (the caller sets after.Version to
// before.Version+1 and after.UpdatedAt). A changed username or email moves
// its claim in the same transaction, which also writes audit when it is not
// nil: either everything is written or nothing. Errors:
// rekey.ErrVersionConflict (stale or missing user), rekey.ErrUsernameTaken,
// rekey.ErrEmailTaken.
func (s *Store) UpdateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	if err := s.updateUser(ctx, before, after, audit); err != nil {
		return fmt.Errorf("dynamo: update user %s: %w", before.ID, err)
	}
	return nil
}

func (s *Store) updateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	var tx transaction
	if err := s.addUpdate(&tx, before, after); err != nil {
		return err
	}
	if audit != nil {
		s.addAudit(&tx, *audit)
	}
	return s.transact(ctx, &tx)
}

// addUpdate adds the steps that replace before with after under before's
// version, moving changed claims (UpdateUser's and the import's batches).
func (s *Store) addUpdate(tx *transaction, before, after rekey.User) error {
	switch {
	case before.ID == "" || after.ID != before.ID:
		return fmt.Errorf("after.ID %q does not match before.ID %q", after.ID, before.ID)
	case after.Username == "":
		return errors.New("username is required")
	case after.Version != before.Version+1:
		return fmt.Errorf("after.Version %d does not follow before.Version %d", after.Version, before.Version)
	}
	step, err := s.txPut(newUserItem(after), expression.Name("version").Equal(expression.Value(before.Version)))
	tx.add(step, err, rekey.ErrVersionConflict)
	s.moveClaim(tx, after.ID, before.Username, after.Username, usernamePK, rekey.ErrUsernameTaken)
	s.moveClaim(tx, after.ID, before.Email, after.Email, emailPK, rekey.ErrEmailTaken)
	// Users stored before externalId claims existed have none to move.
	s.moveKeyClaim(tx, after.ID, externalPK(before.DistrictID, before.ExternalID), externalPK(after.DistrictID, after.ExternalID), rekey.ErrExternalIDTaken, true)
	return nil
}

// moveClaim adds the steps that move userID's claim from one value to
// another (either may be empty) when they differ other than in case: the old
// claim is deleted only if it is still userID's, the new one created only if
// free.
func (s *Store) moveClaim(tx *transaction, userID, from, to string, pk func(string) string, taken error) {
	var fromKey, toKey string
	if from != "" {
		fromKey = pk(from)
	}
	if to != "" {
		toKey = pk(to)
	}
	s.moveKeyClaim(tx, userID, fromKey, toKey, taken, false)
}

// moveKeyClaim is moveClaim on claim keys ("" for none); with missingOK
// an old claim that does not exist is no conflict.
func (s *Store) moveKeyClaim(tx *transaction, userID, fromKey, toKey string, taken error, missingOK bool) {
	if fromKey == toKey {
		return
	}
	if fromKey != "" {
		held := expression.Name("userId").Equal(expression.Value(userID))
		if missingOK {
			held = expression.AttributeNotExists(expression.Name("PK")).Or(held)
		}
		step, err := s.txDelete(fromKey, claimSK, held)
		tx.add(step, err, rekey.ErrConflict)
	}
	if toKey != "" {
		step, err := s.txPut(claimItem{PK: toKey, SK: claimSK, UserID: userID},
			expression.AttributeNotExists(expression.Name("PK")))
		tx.add(step, err, taken)
	}
}
