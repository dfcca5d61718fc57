package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// errInvalidCursor is the answer to a cursor that does not decode or does
// not belong to the listing it is used with.
var errInvalidCursor = &rekey.Error{
	Code:    rekey.ECodeInvalidCursor,
	Field:   "cursor",
	Message: "The cursor is not valid for this listing.",
}

// maxPageSize caps the items a filtered listing asks for in one request.
// It starts at twice what it needs, because the filter drops some, and
// doubles on every further request, so a selective filter costs few
// requests and a loose one reads little more than it returns.
const maxPageSize = 1000

// listing is one paginated read: a Query or a Scan, the key attributes from
// which a cursor is made, and the rule that a decoded cursor must meet.
type listing struct {
	query *dynamodb.QueryInput // exactly one of query and scan is set
	scan  *dynamodb.ScanInput
	// keyNames are the attributes of a resume key: the table's key plus,
	// on an index, the index's key.
	keyNames []string
	// owns reports whether a decoded cursor's key can occur in this
	// listing (same index, same partition, same role prefix).
	owns func(key map[string]string) bool
	// filtered is set when a FilterExpression may drop items.
	filtered bool
}

// newQuery builds the Query of a listing.
func (s *Store) newQuery(index string, key expression.KeyConditionBuilder, filters []expression.ConditionBuilder, newestFirst bool) (*dynamodb.QueryInput, error) {
	b := expression.NewBuilder().WithKeyCondition(key)
	if f, ok := allOf(filters); ok {
		b = b.WithFilter(f)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(!newestFirst),
	}
	if index != "" {
		in.IndexName = aws.String(index)
	}
	return in, nil
}

// newScan builds the Scan of a listing; filters must not be empty.
func (s *Store) newScan(filters []expression.ConditionBuilder) (*dynamodb.ScanInput, error) {
	f, _ := allOf(filters)
	expr, err := expression.NewBuilder().WithFilter(f).Build()
	if err != nil {
		return nil, fmt.Errorf("build scan: %w", err)
	}
	return &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}, nil
}

// allOf joins conditions with AND; ok is false when there are none.
func allOf(conds []expression.ConditionBuilder) (cond expression.ConditionBuilder, ok bool) {
	switch len(conds) {
	case 0:
		return expression.ConditionBuilder{}, false
	case 1:
		return conds[0], true
	default:
		return expression.And(conds[0], conds[1], conds[2:]...), true
	}
}

// read returns up to limit items of l, starting after cursor, and the
// cursor of the next page ("" when the listing is exhausted). It keeps
// reading pages until it has limit items, the source is exhausted, or it
// has evaluated s.maxEvaluated items. The next cursor resumes right after
// the last item returned, so no item is skipped or repeated; only when the
// read budget runs out first does it resume after the last item evaluated.
func (s *Store) read(ctx context.Context, l listing, cursor string, limit int) ([]map[string]types.AttributeValue, string, error) {
	start, err := l.decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	var items []map[string]types.AttributeValue
	evaluated := 0
	for round := 0; ; round++ {
		// One more than needed tells, without another request, whether
		// anything follows the last item returned.
		pageSize := limit - len(items) + 1
		if l.filtered {
			pageSize = min(pageSize<<min(round+1, 10), maxPageSize)
		}
		pageSize = min(pageSize, s.maxEvaluated-evaluated)
		page, last, scanned, err := s.fetch(ctx, l, start, int32(pageSize))
		if err != nil {
			return nil, "", err
		}
		evaluated += scanned
		for _, item := range page {
			if len(items) == limit {
				next, err := l.encodeCursor(items[len(items)-1])
				return items, next, err
			}
			items = append(items, item)
		}
		switch {
		case len(last) == 0:
			return items, "", nil
		case len(items) == limit:
			next, err := l.encodeCursor(items[len(items)-1])
			return items, next, err
		case evaluated >= s.maxEvaluated:
			next, err := l.encodeCursor(last)
			return items, next, err
		}
		start = last
	}
}

// fetch runs one request of l and returns its items, the key to continue
// from and how many items it evaluated.
func (s *Store) fetch(ctx context.Context, l listing, start map[string]types.AttributeValue, pageSize int32) (items []map[string]types.AttributeValue, last map[string]types.AttributeValue, evaluated int, err error) {
	if l.query != nil {
		in := *l.query
		in.ExclusiveStartKey, in.Limit = start, aws.Int32(pageSize)
		resp, err := s.db.Query(ctx, &in)
		if err != nil {
			return nil, nil, 0, err
		}
		return resp.Items, resp.LastEvaluatedKey, max(int(resp.ScannedCount), len(resp.Items)), nil
	}
	in := *l.scan
	in.ExclusiveStartKey, in.Limit = start, aws.Int32(pageSize)
	resp, err := s.db.Scan(ctx, &in)
	if err != nil {
		return nil, nil, 0, err
	}
	return resp.Items, resp.LastEvaluatedKey, max(int(resp.ScannedCount), len(resp.Items)), nil
}

// encodeCursor makes the opaque cursor that resumes l after item:
// base64url of the JSON of item's key attributes.
func (l listing) encodeCursor(item map[string]types.AttributeValue) (string, error) {
	key := make(map[string]string, len(l.keyNames))
	for _, name := range l.keyNames {
		s, ok := item[name].(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("make cursor: key attribute %s missing or not a string", name)
		}
		key[name] = s.Value
	}
	data, err := json.Marshal(key)
	if err != nil {
		return "", fmt.Errorf("make cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(data), nil
}

// decodeCursor turns a cursor back into an ExclusiveStartKey; "" means the
// first page. A cursor that does not decode, lacks or adds key attributes,
// or points outside this listing is errInvalidCursor.
func (l listing) decodeCursor(cursor string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	data, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, errInvalidCursor
	}
	var key map[string]string
	if err := json.Unmarshal(data, &key); err != nil || len(key) != len(l.keyNames) {
		return nil, errInvalidCursor
	}
	start := make(map[string]types.AttributeValue, len(key))
	for _, name := range l.keyNames {
		value, ok := key[name]
		if !ok || value == "" {
			return nil, errInvalidCursor
		}
		start[name] = &types.AttributeValueMemberS{Value: value}
	}
	if !l.owns(key) {
		return nil, errInvalidCursor
	}
	return start, nil
}

// ListUsers returns one page of users: of a school (GSI2) when f.SchoolID
// is set — and then only those of f.DistrictID too, when that is set —,
// else of a district (GSI1), else of every district (a Scan, for support).
// Pages come in role, last name, first name order (except for the Scan),
// narrowed by f.Role, f.Grade and f.Query (a case-insensitive substring of
// the full name, username or email). At most f.Limit users (rekey.UserPaging) are
// returned; Next is set when more may follow.
func (s *Store) ListUsers(ctx context.Context, f rekey.UserFilter) (rekey.UserPage, error) {
	page, err := s.listUsers(ctx, f)
	if err != nil {
		return rekey.UserPage{}, fmt.Errorf("dynamo: list users: %w", err)
	}
	return page, nil
}

func (s *Store) listUsers(ctx context.Context, f rekey.UserFilter) (rekey.UserPage, error) {
	l, err := s.userListing(f)
	if err != nil {
		return rekey.UserPage{}, err
	}
	items, next, err := s.read(ctx, l, f.Cursor, rekey.UserPaging.Clamp(f.Limit))
	if err != nil {
		return rekey.UserPage{}, err
	}
	page := rekey.UserPage{Items: make([]rekey.User, 0, len(items)), Next: next}
	for _, item := range items {
		var it userItem
		if err := unmarshalItem(item, &it); err != nil {
			return rekey.UserPage{}, err
		}
		u, err := it.user()
		if err != nil {
			return rekey.UserPage{}, fmt.Errorf("decode user %s: %w", it.ID, err)
		}
		page.Items = append(page.Items, u)
	}
	return page, nil
}

func (s *Store) userListing(f rekey.UserFilter) (listing, error) {
	var filters []expression.ConditionBuilder
	if f.Grade != "" {
		filters = append(filters, expression.Name("grade").Equal(expression.Value(f.Grade)))
	}
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" {
		filters = append(filters, expression.Name("search").Contains(q))
	}
	isUser := func(key map[string]string) bool {
		return strings.HasPrefix(key["PK"], userPrefix) && key["SK"] == userSK
	}

	index, pkName, skName, partition := "GSI1", "GSI1PK", "GSI1SK", districtGSI+f.DistrictID
	switch {
	case f.SchoolID != "":
		index, pkName, skName, partition = "GSI2", "GSI2PK", "GSI2SK", schoolGSI+f.SchoolID
		if f.DistrictID != "" {
			filters = append(filters, expression.Name("districtId").Equal(expression.Value(f.DistrictID)))
		}
	case f.DistrictID == "":
		filters = append(filters, expression.Name("SK").Equal(expression.Value(userSK)))
		if f.Role != "" {
			filters = append(filters, expression.Name("role").Equal(expression.Value(string(f.Role))))
		}
		// The read budget may end a page on any item of the table, so a scan
		// cursor may hold any item's key.
		scan, err := s.newScan(filters)
		anyItem := func(map[string]string) bool { return true }
		return listing{scan: scan, keyNames: []string{"PK", "SK"}, owns: anyItem, filtered: true}, err
	}

	sortPrefix := rolePrefix
	key := expression.Key(pkName).Equal(expression.Value(partition))
	if f.Role != "" {
		sortPrefix += string(f.Role) + "#"
		key = key.And(expression.Key(skName).BeginsWith(sortPrefix))
	}
	query, err := s.newQuery(index, key, filters, false)
	return listing{
		query:    query,
		keyNames: []string{"PK", "SK", pkName, skName},
		owns: func(key map[string]string) bool {
			return isUser(key) && key[pkName] == partition && strings.HasPrefix(key[skName], sortPrefix)
		},
		filtered: len(filters) > 0,
	}, err
}
