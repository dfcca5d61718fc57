package memstore

import (
	"context"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// sentMessage is the lookup of one sent email: whose it is and what SES
// last said about it.
type sentMessage struct {
	rekey.SentMessage
	mailState string
}

// recordSent keeps the lookups of newly sent emails; a repeated one keeps
// its state (as the DynamoDB store's update does). Called with s.mu held.
func (s *Store) recordSent(sent []rekey.SentMessage) {
	for _, m := range sent {
		stored := s.bulk.messages[m.MessageID]
		stored.SentMessage = m
		s.bulk.messages[m.MessageID] = stored
	}
}

// RecordMailEvent moves the state of the email ev is about by
// rekey.NextMailState; an id no task sent is rekey.ErrNotFound.
func (s *Store) RecordMailEvent(_ context.Context, ev rekey.MailEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.bulk.messages[ev.MessageID]
	if !ok {
		return fmt.Errorf("memstore: mail event for message %s: %w", ev.MessageID, rekey.ErrNotFound)
	}
	current := m.mailState
	if current == "" {
		current = rekey.StateSent
	}
	if next := rekey.NextMailState(current, ev.Type); next != current {
		m.mailState = next
		s.bulk.messages[ev.MessageID] = m
	}
	return nil
}

// MailStates returns SES's last report (delivered, bounced, complained)
// for each of ids that has one; ids with none are left out.
func (s *Store) MailStates(_ context.Context, ids []string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		if m, ok := s.bulk.messages[id]; ok && m.mailState != "" {
			out[id] = m.mailState
		}
	}
	return out, nil
}
