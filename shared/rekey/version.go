package rekey

import (
	"errors"
	"fmt"
)

// CheckNextVersion reports whether a store may write a record over the one
// it was read as: the same, non-empty id, exactly one version later. Every
// versioned write of both stores (shared/dynamo, shared/memstore) checks it
// first, so that a caller who forgot to count the version up gets an error
// instead of a write that the next reader's version check would misjudge.
func CheckNextVersion(beforeID, afterID string, beforeVersion, afterVersion int) error {
	switch {
	case beforeID == "" || afterID != beforeID:
		return fmt.Errorf("after.ID %q does not match before.ID %q", afterID, beforeID)
	case afterVersion != beforeVersion+1:
		return fmt.Errorf("after.Version %d does not follow before.Version %d", afterVersion, beforeVersion)
	}
	return nil
}

// CheckUserUpdate is CheckNextVersion for a user, who must also keep a
// username (their sign-in name and its claim).
func CheckUserUpdate(before, after User) error {
	if err := CheckNextVersion(before.ID, after.ID, before.Version, after.Version); err != nil {
		return err
	}
	if after.Username == "" {
		return errors.New("username is required")
	}
	return nil
}

// CheckPasswordUpdate is CheckUserUpdate for the writes of the reset flows,
// which never rename a user or change their email (so no claim moves).
func CheckPasswordUpdate(before, after User) error {
	if err := CheckUserUpdate(before, after); err != nil {
		return err
	}
	if after.Username != before.Username || after.Email != before.Email {
		return errors.New("a password reset may not change the username or email")
	}
	return nil
}
