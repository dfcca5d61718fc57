package devstack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rekey/rekey/infra/stack"
)

// Sender is the SES sender the local system mails from; CreateResources
// verifies it.
const Sender = "no-reply@rekey.example.org"

// Resources are template.yaml's resources created on the emulator, what the
// system runs against: the local runner here, lambdalocal's functions and
// the functions' sample-event tests.
type Resources struct {
	Table string
	// Queues are the template's queues by logical id.
	Queues    map[string]stack.Queue
	Bucket    string // the import bucket
	TaskKeyID string
}

// CreateResources creates the table named table from template, the
// template's queues and the import bucket under names that start with it,
// a task key, and verifies Sender. An existing table, queue, bucket or
// sender is kept, so that `make dev` restarts against the same moto.
func CreateResources(ctx context.Context, awsCfg aws.Config, template, table string) (Resources, error) {
	res := Resources{Table: table, Bucket: table + "-imports"}
	if err := stack.CreateTables(ctx, dynamodb.NewFromConfig(awsCfg), template, map[string]string{"Table": table}); err != nil {
		return Resources{}, fmt.Errorf("devstack: create tables: %w", err)
	}
	queues, err := stack.CreateQueues(ctx, sqs.NewFromConfig(awsCfg), template, map[string]string{
		"MailQueue": table + "-mail", "MailDLQ": table + "-mail-dlq",
		"BulkPlanQueue": table + "-bulk-plan", "BulkPlanDLQ": table + "-bulk-plan-dlq",
		"BulkWorkQueue": table + "-bulk-work", "BulkWorkDLQ": table + "-bulk-work-dlq",
		"BulkPasswordQueue": table + "-bulk-password", "BulkPasswordDLQ": table + "-bulk-password-dlq",
		"ImportQueue": table + "-import", "ImportDLQ": table + "-import-dlq",
	})
	if err != nil {
		return Resources{}, err
	}
	res.Queues = queues
	// moto on loopback has no per-bucket host names.
	if err := createBucket(ctx, s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true }), res.Bucket); err != nil {
		return Resources{}, err
	}
	key, err := kms.NewFromConfig(awsCfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("rekey local task key")})
	if err != nil {
		return Resources{}, fmt.Errorf("devstack: create the task key: %w", err)
	}
	res.TaskKeyID = aws.ToString(key.KeyMetadata.KeyId)
	if err := verifySender(ctx, sesv2.NewFromConfig(awsCfg), Sender); err != nil {
		return Resources{}, err
	}
	return res, nil
}
