package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// Where SES's events about a task's emails are kept: one small item per
// sent email (MSG#<messageId> / MSG), written in the transaction that
// records the email as sent. An event updates only that item, never the
// chunk, which its worker rewrites whole; the results read merges the
// items' states in (MailStates).

const (
	messagePrefix = "MSG#"
	messageSK     = "MSG"
)

func messagePK(id string) string { return messagePrefix + id }

// messageItem is the lookup of one sent email.
type messageItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	TaskID    string `dynamodbav:"taskId"`
	Index     int    `dynamodbav:"chunk"`
	UserID    string `dynamodbav:"userId"`
	MailState string `dynamodbav:"mailState,omitempty"`
	TTL       int64  `dynamodbav:"ttl"`
}

// txSent is the transaction step that keeps m's lookup. An update with no
// condition: a save repeated after an unclear failure rewrites the same
// attributes and keeps any state an event already recorded.
func (s *Store) txSent(m rekey.SentMessage) (types.TransactWriteItem, error) {
	update := expression.Set(expression.Name("taskId"), expression.Value(m.TaskID)).
		Set(expression.Name("chunk"), expression.Value(m.Index)).
		Set(expression.Name("userId"), expression.Value(m.UserID)).
		Set(expression.Name("ttl"), expression.Value(ttlAfter(s.chunkTTL())))
	expr, err := expression.NewBuilder().WithUpdate(update).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build update: %w", err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(messagePK(m.MessageID), messageSK),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// RecordMailEvent moves the state of the email ev is about by
// rekey.NextMailState, conditioned on the state read, so that events
// racing each other are applied one after the other; a duplicate or an
// event that changes nothing writes nothing. An id no task sent (or one
// whose send is not recorded yet) is rekey.ErrNotFound.
func (s *Store) RecordMailEvent(ctx context.Context, ev rekey.MailEvent) error {
	for attempt := 0; ; attempt++ {
		err := s.recordMailEvent(ctx, ev)
		if errors.Is(err, rekey.ErrConflict) && attempt == 0 {
			continue // another event moved it since the read: read again
		}
		if err != nil {
			return fmt.Errorf("dynamo: mail event for message %s: %w", ev.MessageID, err)
		}
		return nil
	}
}

func (s *Store) recordMailEvent(ctx context.Context, ev rekey.MailEvent) error {
	var it messageItem
	if err := s.getItem(ctx, messagePK(ev.MessageID), messageSK, &it); err != nil {
		return err
	}
	current := it.MailState
	if current == "" {
		current = rekey.StateSent
	}
	next := rekey.NextMailState(current, ev.Type)
	if next == current {
		return nil
	}
	cond := expression.AttributeExists(expression.Name("PK"))
	if it.MailState == "" {
		cond = cond.And(expression.AttributeNotExists(expression.Name("mailState")))
	} else {
		cond = cond.And(expression.Name("mailState").Equal(expression.Value(it.MailState)))
	}
	_, err := s.updateItem(ctx, messagePK(ev.MessageID), messageSK,
		expression.Set(expression.Name("mailState"), expression.Value(next)), &cond, rekey.ErrConflict)
	return err
}

// MailStates returns SES's last report (delivered, bounced, complained)
// for each of ids that has one, by id (a BatchGetItem per 100 ids); ids
// with no report, or not known, are left out.
func (s *Store) MailStates(ctx context.Context, ids []string) (map[string]string, error) {
	keys := make([][2]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			keys = append(keys, [2]string{messagePK(id), messageSK})
		}
	}
	found, err := s.getItems(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("dynamo: read mail states: %w", err)
	}
	out := make(map[string]string, len(found))
	for _, av := range found {
		var it messageItem
		if err := unmarshalItem(av, &it); err != nil {
			return nil, fmt.Errorf("dynamo: read mail states: %w", err)
		}
		if it.MailState != "" {
			out[it.PK[len(messagePrefix):]] = it.MailState
		}
	}
	return out, nil
}
