package lambdalocal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rekey/rekey/infra/devstack"
	"github.com/rekey/rekey/infra/moto"
	"github.com/rekey/rekey/infra/seed"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// samplePassword is what events/api-auth.json signs the demo district
// admin in with; the demo district is seeded with it.
const samplePassword = "correct horse battery staple"

// environment is moto with the template's table and queues, a task key, a
// verified sender and the demo district: what the functions run against.
type environment struct {
	endpoint string
	res      devstack.Resources
	sqs      *sqs.Client
	moto     *moto.Server // nil when AWS_ENDPOINT_URL named an emulator
}

// startResources starts moto (or uses the emulator at AWS_ENDPOINT_URL)
// and creates every resource in fresh names, so that runs never share state.
func startResources(ctx context.Context, root string) (_ *environment, err error) {
	env := &environment{endpoint: os.Getenv("AWS_ENDPOINT_URL")}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	if env.endpoint == "" {
		if env.moto, err = moto.Start(ctx); err != nil {
			return nil, fmt.Errorf("lambdalocal: %w", err)
		}
		env.endpoint = env.moto.Endpoint()
	}
	awsCfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithBaseEndpoint(env.endpoint),
		config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "lambdalocal"}, nil
		})))
	if err != nil {
		return nil, fmt.Errorf("lambdalocal: AWS configuration: %w", err)
	}
	if env.res, err = devstack.CreateResources(ctx, awsCfg, filepath.Join(root, "template.yaml"), "lambda-local-"+strings.ToLower(rekey.NewID()[:8])); err != nil {
		return nil, fmt.Errorf("lambdalocal: %w", err)
	}
	env.sqs = sqs.NewFromConfig(awsCfg)
	// Seeding hashes each demo password at a low cost: only the hashes'
	// speed differs, and the functions verify with the stored parameters.
	cheap := password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}
	if _, err := seed.Demo(ctx, dynamo.New(dynamodb.NewFromConfig(awsCfg), env.res.Table, time.Now), cheap, seed.Options{Password: samplePassword, StudentsPerSchool: 3}); err != nil {
		return nil, fmt.Errorf("lambdalocal: seed the demo district: %w", err)
	}
	return env, nil
}

// functionEnv is a function's whole environment, as the template gives
// it on AWS, pointed at the emulator with dummy credentials; nothing of the
// developer's shell (a profile, a session token) leaks in.
func (e *environment) functionEnv() []string {
	return []string{
		"REKEY_TABLE=" + e.res.Table,
		"REKEY_PUBLIC_BASE_URL=https://rekey.example.org",
		"REKEY_SENDER_EMAIL=" + devstack.Sender,
		"REKEY_MAIL_QUEUE_URL=" + e.res.Queues["MailQueue"].URL,
		"REKEY_BULK_PLAN_QUEUE_URL=" + e.res.Queues["BulkPlanQueue"].URL,
		"REKEY_BULK_WORK_QUEUE_URL=" + e.res.Queues["BulkWorkQueue"].URL,
		"REKEY_BULK_PASSWORD_QUEUE_URL=" + e.res.Queues["BulkPasswordQueue"].URL,
		"REKEY_IMPORT_QUEUE_URL=" + e.res.Queues["ImportQueue"].URL,
		"REKEY_IMPORT_BUCKET=" + e.res.Bucket,
		"REKEY_TASK_KEY_ID=" + e.res.TaskKeyID,
		"AWS_ENDPOINT_URL=" + e.endpoint,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
	}
}

// receive takes one message off a template queue, as an event source would.
func (e *environment) receive(ctx context.Context, queue string) (string, error) {
	out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(e.res.Queues[queue].URL), MaxNumberOfMessages: 1, WaitTimeSeconds: 2,
	})
	if err != nil {
		return "", fmt.Errorf("receive from %s: %w", queue, err)
	}
	if len(out.Messages) != 1 {
		return "", fmt.Errorf("%s holds no message", queue)
	}
	return aws.ToString(out.Messages[0].Body), nil
}

func (e *environment) close() {
	if e.moto != nil {
		if err := e.moto.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "lambdalocal:", err)
		}
	}
}
