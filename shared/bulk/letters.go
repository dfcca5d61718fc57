package bulk

import (
	"context"
	"io"

	"github.com/rekey/rekey/shared/letters"
	"github.com/rekey/rekey/shared/rekey"
)

// LettersPDF writes the login letters of a generated_passwords or
// default_password task (GET /api/tasks/{id}/letters.pdf): a card for each
// user whose password the task set, with name, school, grade, username,
// the generated password, and signInURL (the console's address) with its
// QR code. Access is exactly ResultsCSV's: the task must be visible to
// actor, each card's user must be one actor may view now, and a generated
// password is printed only for the task's creator, within
// rekey.PasswordRetention (24 hours), for users they may still reset. When
// no generated password may be printed any more, the letters would be
// useless and the answer is a conflict; other tasks are invalid input.
func (s *Service) LettersPDF(ctx context.Context, actor rekey.User, id, signInURL string, w io.Writer) error {
	rec, err := s.visible(ctx, actor, id)
	if err != nil {
		return err
	}
	generated := rec.Task.Delivery.Mode == rekey.DeliverGeneratedPasswords
	if !generated && rec.Task.Delivery.Mode != rekey.DeliverDefaultPassword {
		return rekey.FieldError(rekey.ECodeInvalidInput, "id", "Login letters are made for tasks that set default or generated passwords.")
	}
	key, keyOK, err := s.passwordKey(ctx, actor, rec)
	if err != nil {
		return err
	}
	if generated && !keyOK {
		return rekey.Errorf(rekey.ECodeConflict, "The generated passwords of a task can be printed only by its creator, within 24 hours of its start; start a new task for new passwords.")
	}
	schools := &schoolNames{store: s.store, districtID: rec.Task.DistrictID}
	var cards []letters.Card
	err = s.eachFinalResult(ctx, actor, rec, func(e rekey.ChunkEntry, rows rowScope) error {
		if e.Result.Outcome != rekey.OutcomePasswordSet {
			return nil
		}
		r, passwordOK := rows.result(e)
		if r.Username == "" { // a user the viewer may no longer view
			return nil
		}
		school, err := schools.name(ctx, r.SchoolID)
		if err != nil {
			return err
		}
		card := letters.Card{FirstName: r.FirstName, LastName: r.LastName, School: school, Grade: r.Grade, Username: r.Username, SignInURL: signInURL}
		if generated {
			if !passwordOK || len(e.SealedPassword) == 0 {
				return nil // no card without its password
			}
			plain, err := key.Open(e.SealedPassword, passwordBinding(rec.Task.ID, r.UserID))
			if err != nil {
				return nil
			}
			card.Password = string(plain)
		}
		cards = append(cards, card)
		return nil
	})
	if err != nil {
		return err
	}
	if len(cards) == 0 {
		return rekey.Errorf(rekey.ECodeConflict, "This task has no letters to print: no user you may see got a new password.")
	}
	return letters.Write(w, cards, letters.Options{})
}
