package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// writeRecorder notes every DynamoDB write the pipeline makes (the item or
// its key, and whether it was part of a transaction), so that its write
// units can be priced from the real item sizes once the run is over.
type writeRecorder struct {
	mu     sync.Mutex
	writes []recordedWrite
}

type recordedWrite struct {
	table string
	key   map[string]types.AttributeValue // PK and SK
	item  map[string]types.AttributeValue // the whole item, for a put
	txn   bool
}

// Attach makes every DynamoDB client built from cfg afterwards record its
// writes in r, and returns cfg.
func (r *writeRecorder) Attach(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("rekeyWriteUnits",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.record(in.Parameters)
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	return cfg
}

func keyOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]}
}

func (r *writeRecorder) record(params any) {
	var ws []recordedWrite
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		ws = append(ws, recordedWrite{table: aws.ToString(in.TableName), key: keyOf(in.Item), item: in.Item})
	case *dynamodb.UpdateItemInput:
		ws = append(ws, recordedWrite{table: aws.ToString(in.TableName), key: in.Key})
	case *dynamodb.DeleteItemInput:
		ws = append(ws, recordedWrite{table: aws.ToString(in.TableName), key: in.Key})
	case *dynamodb.BatchWriteItemInput:
		for table, reqs := range in.RequestItems {
			for _, req := range reqs {
				if req.PutRequest != nil {
					ws = append(ws, recordedWrite{table: table, key: keyOf(req.PutRequest.Item), item: req.PutRequest.Item})
				} else if req.DeleteRequest != nil {
					ws = append(ws, recordedWrite{table: table, key: req.DeleteRequest.Key})
				}
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				ws = append(ws, recordedWrite{table: aws.ToString(it.Put.TableName), key: keyOf(it.Put.Item), item: it.Put.Item, txn: true})
			case it.Update != nil:
				ws = append(ws, recordedWrite{table: aws.ToString(it.Update.TableName), key: it.Update.Key, txn: true})
			case it.Delete != nil:
				ws = append(ws, recordedWrite{table: aws.ToString(it.Delete.TableName), key: it.Delete.Key, txn: true})
			case it.ConditionCheck != nil: // billed as a write of the item's size
				ws = append(ws, recordedWrite{table: aws.ToString(it.ConditionCheck.TableName), key: it.ConditionCheck.Key, txn: true})
			}
		}
	}
	if len(ws) > 0 {
		r.mu.Lock()
		r.writes = append(r.writes, ws...)
		r.mu.Unlock()
	}
}

// Reset forgets the recorded writes.
func (r *writeRecorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = nil
}

// writeUnits is what the recorded writes cost, by the rules of DynamoDB
// on-demand billing: a write is one unit per started KB of the item (for
// an update, the larger of the item before and after; this takes the item
// as it is after the run, which is the larger for everything the pipeline
// grows), doubled inside a transaction; each GSI the item is in (both
// project ALL) takes one more write of its size.
type writeUnits struct {
	table, index float64
	// taskPartition is the table's units on the task's partition key
	// (TASK#<id>: the task item and its chunks, which hold the results):
	// one partition key serves at most 1,000 write units a second.
	taskPartition  float64
	writes         int
	bySort         map[string]float64 // units by the item kind (SK prefix), for the notes
	transactional  int
	largestItemKiB float64
}

// Units prices the writes recorded since the last Reset, reading the items
// the writes left in the table (BatchGetItem, 100 keys a call).
func (r *writeRecorder) Units(ctx context.Context, db *dynamodb.Client) (writeUnits, error) {
	r.mu.Lock()
	writes := append([]recordedWrite(nil), r.writes...)
	r.mu.Unlock()
	stored := map[string]map[string]types.AttributeValue{}
	var pending []recordedWrite
	seen := map[string]bool{}
	for _, w := range writes {
		if id := itemID(w.table, w.key); w.item == nil && !seen[id] {
			seen[id] = true
			pending = append(pending, w)
		}
	}
	for start := 0; start < len(pending); start += 100 {
		batch := pending[start:min(start+100, len(pending))]
		req := map[string]types.KeysAndAttributes{}
		for _, w := range batch {
			ka := req[w.table]
			ka.Keys = append(ka.Keys, w.key)
			req[w.table] = ka
		}
		for len(req) > 0 {
			out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return writeUnits{}, fmt.Errorf("write units: read items: %w", err)
			}
			for table, items := range out.Responses {
				for _, item := range items {
					stored[itemID(table, keyOf(item))] = item
				}
			}
			req = out.UnprocessedKeys
		}
	}
	u := writeUnits{bySort: map[string]float64{}}
	for _, w := range writes {
		item := w.item
		if item == nil {
			item = stored[itemID(w.table, w.key)]
		}
		size := 1024.0 // an item gone since (deleted): priced as 1 KB
		if item != nil {
			size = float64(itemSize(item))
		}
		units := math.Max(1, math.Ceil(size/1024))
		tableUnits := units
		if w.txn {
			tableUnits *= 2
			u.transactional++
		}
		u.table += tableUnits
		if strings.HasPrefix(attrString(w.key["PK"]), "TASK#") {
			u.taskPartition += tableUnits
		}
		u.writes++
		u.largestItemKiB = math.Max(u.largestItemKiB, size/1024)
		kind := sortKind(w.key)
		u.bySort[kind] += tableUnits
		for _, gsi := range []string{"GSI1PK", "GSI2PK"} {
			if _, ok := item[gsi]; ok {
				u.index += units
				u.bySort[kind] += units
			}
		}
	}
	return u, nil
}

func itemID(table string, key map[string]types.AttributeValue) string {
	return table + "\x00" + attrString(key["PK"]) + "\x00" + attrString(key["SK"])
}

func attrString(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return fmt.Sprint(v)
}

// sortKind is the item kind a key names: its partition key up to the
// first '#' (USER, AUDIT, TASK), and for a task's items its sort key's
// (TASK, CHUNK, KEY).
func sortKind(key map[string]types.AttributeValue) string {
	kind, _, _ := strings.Cut(attrString(key["PK"]), "#")
	if kind == "TASK" {
		kind, _, _ = strings.Cut(attrString(key["SK"]), "#")
		kind = "TASK/" + kind
	}
	return kind
}

// itemSize is an item's size as DynamoDB counts it: attribute names plus
// values (strings and binaries by length, numbers about one byte per two
// digits plus one, lists and maps 3 bytes plus 1 per element).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(strings.TrimLeft(v.Value, "-0."))+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		return totalLen(v.Value)
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += valueSize(&types.AttributeValueMemberN{Value: s})
		}
		return n
	case *types.AttributeValueMemberBS:
		return totalLen(v.Value)
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

// totalLen is the summed length of a string or binary set's members, which
// is what DynamoDB counts for the set.
func totalLen[E string | []byte](set []E) int {
	n := 0
	for _, e := range set {
		n += len(e)
	}
	return n
}
