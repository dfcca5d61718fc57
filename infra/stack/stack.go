// Package stack reads Rekey's DynamoDB tables from the SAM template, so that
// the local runner and the integration tests create exactly the tables that
// get deployed (template.yaml is the one source of truth for the schema).
package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"
)

// tableType is the CloudFormation resource type this package understands.
const tableType = "AWS::DynamoDB::Table"

// table is one AWS::DynamoDB::Table resource of the template.
type table struct {
	input *dynamodb.CreateTableInput
	ttl   *types.TimeToLiveSpecification // nil when the template sets none
}

// The subset of AWS::DynamoDB::Table properties that define a table's schema.
// Properties not listed here (PointInTimeRecoverySpecification,
// SSESpecification, Tags, …) are deployment settings and are ignored.
type tableProperties struct {
	BillingMode            string                `yaml:"BillingMode"`
	AttributeDefinitions   []attributeDefinition `yaml:"AttributeDefinitions"`
	KeySchema              []keyElement          `yaml:"KeySchema"`
	GlobalSecondaryIndexes []secondaryIndex      `yaml:"GlobalSecondaryIndexes"`
	LocalSecondaryIndexes  []secondaryIndex      `yaml:"LocalSecondaryIndexes"`
	ProvisionedThroughput  *throughput           `yaml:"ProvisionedThroughput"`
	TimeToLive             *struct {
		AttributeName string `yaml:"AttributeName"`
		Enabled       bool   `yaml:"Enabled"`
	} `yaml:"TimeToLiveSpecification"`
}

type attributeDefinition struct {
	AttributeName string `yaml:"AttributeName"`
	AttributeType string `yaml:"AttributeType"`
}

type keyElement struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

type secondaryIndex struct {
	IndexName  string       `yaml:"IndexName"`
	KeySchema  []keyElement `yaml:"KeySchema"`
	Projection struct {
		ProjectionType   string   `yaml:"ProjectionType"`
		NonKeyAttributes []string `yaml:"NonKeyAttributes"`
	} `yaml:"Projection"`
	ProvisionedThroughput *throughput `yaml:"ProvisionedThroughput"`
}

type throughput struct {
	ReadCapacityUnits  int64 `yaml:"ReadCapacityUnits"`
	WriteCapacityUnits int64 `yaml:"WriteCapacityUnits"`
}

// TableInputs parses the SAM template and returns a CreateTableInput per
// AWS::DynamoDB::Table resource, keyed by logical id (e.g. "Table"): key
// schema, attribute definitions, secondary indexes and billing mode. TableName
// is left nil; the caller chooses the physical name.
func TableInputs(templatePath string) (map[string]*dynamodb.CreateTableInput, error) {
	tables, err := readTables(templatePath)
	if err != nil {
		return nil, err
	}
	inputs := make(map[string]*dynamodb.CreateTableInput, len(tables))
	for id, t := range tables {
		inputs[id] = t.input
	}
	return inputs, nil
}

// CreateTables creates each table named in names (template logical id ->
// physical table name), waits until it is active and applies its
// TimeToLiveSpecification. Tables that already exist are left as they are;
// template tables absent from names are not created. A logical id in names
// that is not a table of the template is an error.
func CreateTables(ctx context.Context, db *dynamodb.Client, templatePath string, names map[string]string) error {
	tables, err := readTables(templatePath)
	if err != nil {
		return err
	}
	ids := slices.Sorted(maps.Keys(names))
	for _, id := range ids {
		if _, ok := tables[id]; !ok {
			return fmt.Errorf("stack: %s has no %s named %q", templatePath, tableType, id)
		}
	}
	for _, id := range ids {
		if err := createTable(ctx, db, tables[id], names[id]); err != nil {
			return fmt.Errorf("stack: create table %s (%s): %w", names[id], id, err)
		}
	}
	return nil
}

func createTable(ctx context.Context, db *dynamodb.Client, t table, name string) error {
	input := *t.input
	input.TableName = aws.String(name)
	_, err := db.CreateTable(ctx, &input)
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return nil
	}
	if err != nil {
		return err
	}
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 500 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
		return fmt.Errorf("wait until active: %w", err)
	}
	if t.ttl == nil {
		return nil
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: t.ttl,
	})
	if err != nil {
		return fmt.Errorf("time to live: %w", err)
	}
	return nil
}

// FindTemplate walks up from the working directory to the folder holding
// go.mod (the repository root) and returns the path of its template.yaml.
func FindTemplate() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("stack: find template: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			path := filepath.Join(dir, "template.yaml")
			if _, err := os.Stat(path); err != nil {
				return "", fmt.Errorf("stack: find template: %w", err)
			}
			return path, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stack: find template: no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

// readTables decodes the template into yaml.Node first, so CloudFormation
// short tags (!Ref, !GetAtt, !Sub, …) anywhere in it parse without error;
// only the schema properties of table resources are decoded further, and an
// intrinsic function there is reported rather than silently misread.
func readTables(templatePath string) (map[string]table, error) {
	nodes, err := resourcesOfType(templatePath, tableType)
	if err != nil {
		return nil, err
	}
	tables := make(map[string]table)
	for id, resource := range nodes {
		t, err := decodeTable(mappingValue(resource, "Properties"))
		if err != nil {
			return nil, fmt.Errorf("stack: %s: resource %s: %w", templatePath, id, err)
		}
		tables[id] = t
	}
	return tables, nil
}

// resourcesOfType returns the template's resources of one CloudFormation
// type, by logical id.
func resourcesOfType(templatePath, typ string) (map[string]*yaml.Node, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("stack: parse %s: %w", templatePath, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("stack: %s is empty", templatePath)
	}
	resources := mappingValue(doc.Content[0], "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("stack: %s has no Resources mapping", templatePath)
	}
	out := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(resources.Content); i += 2 {
		id, resource := resources.Content[i].Value, resources.Content[i+1]
		if t := mappingValue(resource, "Type"); t != nil && t.Value == typ {
			out[id] = resource
		}
	}
	return out, nil
}

func decodeTable(node *yaml.Node) (table, error) {
	if node == nil {
		return table{}, errors.New("no Properties")
	}
	for _, field := range []string{"BillingMode", "AttributeDefinitions", "KeySchema",
		"GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput", "TimeToLiveSpecification"} {
		if tag := intrinsicTag(mappingValue(node, field)); tag != "" {
			return table{}, fmt.Errorf("Properties.%s uses %s; only literal values are supported", field, tag)
		}
	}
	var p tableProperties
	if err := node.Decode(&p); err != nil {
		return table{}, fmt.Errorf("decode Properties: %w", err)
	}
	if len(p.KeySchema) == 0 {
		return table{}, errors.New("Properties.KeySchema is empty")
	}
	input := &dynamodb.CreateTableInput{
		KeySchema:             keySchema(p.KeySchema),
		ProvisionedThroughput: p.ProvisionedThroughput.sdk(),
	}
	if p.BillingMode != "" {
		input.BillingMode = types.BillingMode(p.BillingMode)
	}
	for _, a := range p.AttributeDefinitions {
		input.AttributeDefinitions = append(input.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName),
			AttributeType: types.ScalarAttributeType(a.AttributeType),
		})
	}
	for _, g := range p.GlobalSecondaryIndexes {
		input.GlobalSecondaryIndexes = append(input.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:             aws.String(g.IndexName),
			KeySchema:             keySchema(g.KeySchema),
			Projection:            g.projection(),
			ProvisionedThroughput: g.ProvisionedThroughput.sdk(),
		})
	}
	for _, l := range p.LocalSecondaryIndexes {
		input.LocalSecondaryIndexes = append(input.LocalSecondaryIndexes, types.LocalSecondaryIndex{
			IndexName:  aws.String(l.IndexName),
			KeySchema:  keySchema(l.KeySchema),
			Projection: l.projection(),
		})
	}
	t := table{input: input}
	if p.TimeToLive != nil && p.TimeToLive.AttributeName != "" {
		t.ttl = &types.TimeToLiveSpecification{
			AttributeName: aws.String(p.TimeToLive.AttributeName),
			Enabled:       aws.Bool(p.TimeToLive.Enabled),
		}
	}
	return t, nil
}

func keySchema(elements []keyElement) []types.KeySchemaElement {
	schema := make([]types.KeySchemaElement, 0, len(elements))
	for _, k := range elements {
		schema = append(schema, types.KeySchemaElement{
			AttributeName: aws.String(k.AttributeName),
			KeyType:       types.KeyType(k.KeyType),
		})
	}
	return schema
}

func (i secondaryIndex) projection() *types.Projection {
	p := &types.Projection{ProjectionType: types.ProjectionType(i.Projection.ProjectionType)}
	if len(i.Projection.NonKeyAttributes) > 0 {
		p.NonKeyAttributes = i.Projection.NonKeyAttributes
	}
	return p
}

func (t *throughput) sdk() *types.ProvisionedThroughput {
	if t == nil {
		return nil
	}
	return &types.ProvisionedThroughput{
		ReadCapacityUnits:  aws.Int64(t.ReadCapacityUnits),
		WriteCapacityUnits: aws.Int64(t.WriteCapacityUnits),
	}
}

// mappingValue returns the value node of key in a mapping node, or nil.
func mappingValue(node *yaml.Node, key string) *yaml.Node {
	if node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return node.Content[i+1]
		}
	}
	return nil
}

// intrinsicTag returns the first CloudFormation short tag (e.g. "!Ref") found
// in node or below it, or "" when the subtree is plain YAML. The long form
// (a mapping key such as "Fn::If" or "Ref") is reported too.
func intrinsicTag(node *yaml.Node) string {
	if node == nil {
		return ""
	}
	if strings.HasPrefix(node.Tag, "!") && !strings.HasPrefix(node.Tag, "!!") {
		return node.Tag
	}
	if node.Kind == yaml.MappingNode {
		for i := 0; i < len(node.Content); i += 2 {
			if k := node.Content[i].Value; k == "Ref" || strings.HasPrefix(k, "Fn::") {
				return k
			}
		}
	}
	for _, child := range node.Content {
		if tag := intrinsicTag(child); tag != "" {
			return tag
		}
	}
	return ""
}
