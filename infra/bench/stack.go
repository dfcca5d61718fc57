package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/rekey/rekey/infra/bench/callcount"
	"github.com/rekey/rekey/infra/moto"
	"github.com/rekey/rekey/infra/stack"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/mail/ses"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/queue"
	"github.com/rekey/rekey/shared/rekey"
)

const senderAddress = "no-reply@rekey.example.org"

// localAWS is moto, started for the benchmarks unless AWS_ENDPOINT_URL
// already points at one, with every client's calls counted.
type localAWS struct {
	cfg aws.Config
	// counted is cfg without the write recorder: for runs that price no
	// write units and whose heap is measured (the recorder keeps every
	// written item, which would count as the run's own memory).
	counted aws.Config
	calls   *callcount.Counter
	writes  *writeRecorder
	server  *moto.Server
}

func startLocalAWS(ctx context.Context) (*localAWS, error) {
	l := &localAWS{calls: &callcount.Counter{}, writes: &writeRecorder{}}
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		server, err := moto.Start(ctx)
		if err != nil {
			return nil, err
		}
		l.server = server
		endpoint = server.Endpoint()
	}
	if err := moto.UseEndpoint(endpoint); err != nil {
		l.stop()
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		l.stop()
		return nil, err
	}
	l.counted = l.calls.Attach(cfg)
	l.counted.APIOptions = slices.Clip(l.counted.APIOptions) // l.cfg's recorder must not be appended into it
	l.cfg = l.writes.Attach(l.counted)
	return l, nil
}

func (l *localAWS) stop() {
	if l.server != nil {
		l.server.Stop()
	}
}

// pipeline is the bulk pipeline on moto: a fresh table seeded with one
// district admin and users students of one school, the plan and work
// queues, a KMS key and a verified SES sender.
type pipeline struct {
	aws     *localAWS
	store   *dynamo.Store
	svc     *bulk.Service
	plans   *queue.Poller
	work    *queue.Poller
	worker  *bulk.Worker
	admin   rekey.User
	workers int
}

// fastHasher stands in for argon2id's real cost where the benchmark counts
// calls, not CPU.
var fastHasher = password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}

func newPipeline(ctx context.Context, l *localAWS, users, workers int) (*pipeline, error) {
	p := &pipeline{aws: l, workers: workers}
	db := dynamodb.NewFromConfig(l.cfg)
	path, err := stack.FindTemplate()
	if err != nil {
		return nil, err
	}
	table := "bench-" + rekey.NewID()
	if err := stack.CreateTables(ctx, db, path, map[string]string{"Table": table}); err != nil {
		return nil, err
	}
	p.store = dynamo.New(db, table, nil)
	if err := p.seed(ctx, users); err != nil {
		return nil, err
	}

	sqsClient := sqs.NewFromConfig(l.cfg)
	planURL, err := createQueue(ctx, sqsClient, "bench-plan-"+rekey.NewID())
	if err != nil {
		return nil, err
	}
	workURL, err := createQueue(ctx, sqsClient, "bench-work-"+rekey.NewID())
	if err != nil {
		return nil, err
	}
	plans, work := queue.NewSender(sqsClient, planURL), queue.NewSender(sqsClient, workURL)
	// The mail queue takes the password deliveries' notices; the mail
	// worker that sends them is not part of this pipeline.
	mailURL, err := createQueue(ctx, sqsClient, "bench-mail-"+rekey.NewID())
	if err != nil {
		return nil, err
	}
	notices := queue.NewSender(sqsClient, mailURL)

	kmsClient := kms.NewFromConfig(l.cfg)
	key, err := kmsClient.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		return nil, err
	}
	keys := kmskeys.New(kmsClient, aws.ToString(key.KeyMetadata.KeyId))
	sesClient := sesv2.NewFromConfig(l.cfg)
	var exists *sestypes.AlreadyExistsException
	if _, err := sesClient.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(senderAddress)}); err != nil && !errors.As(err, &exists) {
		return nil, err
	}

	cfg := bulk.Config{PublicBaseURL: "https://console.example.org", SendRate: 100000, WorkerConcurrency: workers}
	if p.svc, err = bulk.NewService(bulk.ServiceDeps{Store: p.store, Plans: plans, Keys: keys}); err != nil {
		return nil, err
	}
	planner, err := bulk.NewPlanner(cfg, bulk.PlannerDeps{Store: p.store, Work: work, Plans: plans})
	if err != nil {
		return nil, err
	}
	if p.worker, err = bulk.NewWorker(cfg, bulk.WorkerDeps{Store: p.store, Work: work, Keys: keys, Notices: notices, Mailer: ses.NewSender(sesClient, senderAddress, ""), Hasher: fastHasher}); err != nil {
		return nil, err
	}
	p.plans = queue.NewPoller(sqsClient, planURL, "", "us-east-1", planner.Handle)
	p.work = queue.NewPoller(sqsClient, workURL, "", "us-east-1", p.worker.Handle)
	for _, poller := range []*queue.Poller{p.plans, p.work} {
		poller.WaitTime, poller.FailedVisibility = 0, time.Nanosecond
	}
	return p, nil
}

// seed writes the district, its school, the admin and the students.
func (p *pipeline) seed(ctx context.Context, n int) error {
	if err := p.store.PutDistrict(ctx, rekey.District{ID: "d1", Name: "Riverbend Unified"}); err != nil {
		return err
	}
	if err := p.store.PutSchool(ctx, rekey.School{ID: "s1", DistrictID: "d1", Name: "Northfield Elementary"}); err != nil {
		return err
	}
	now := time.Now()
	p.admin = rekey.User{ID: "da1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Username: "district.admin", Status: rekey.StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now}
	users := []rekey.User{p.admin}
	for i := range n {
		users = append(users, rekey.User{
			ID: fmt.Sprintf("u%06d", i), DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent,
			Username: fmt.Sprintf("pupil%06d", i), FirstName: "Pupil", LastName: fmt.Sprintf("N%06d", i),
			Email: fmt.Sprintf("pupil%06d@bench.example.org", i), Grade: "5", Status: rekey.StatusActive,
			PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", Version: 1, SessionGen: 1, CreatedAt: now, UpdatedAt: now,
		})
	}
	return p.store.SeedUsers(ctx, users)
}

func createQueue(ctx context.Context, client *sqs.Client, name string) (string, error) {
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		return "", err
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", err
	}
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": "900",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"5"}`, attrs.Attributes["QueueArn"]),
	}})
	if err != nil {
		return "", err
	}
	return aws.ToString(q.QueueUrl), nil
}

// run starts a bulk reset of every student of the school as the district
// admin and drives the planner and the workers (p.workers pollers at once,
// like the event source's MaximumConcurrency) until the task is finished.
func (p *pipeline) run(ctx context.Context, del rekey.Delivery) (rekey.Task, time.Duration, error) {
	start := time.Now()
	task, err := p.svc.Start(ctx, p.admin, rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, del, "", "bench")
	if err != nil {
		return rekey.Task{}, 0, err
	}
	for round := 0; ; round++ {
		planned, err := drain(ctx, p.plans)
		if err != nil {
			return rekey.Task{}, 0, err
		}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			worked int
			errs   []error
		)
		for range p.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := drain(ctx, p.work)
				mu.Lock()
				defer mu.Unlock()
				worked += n
				if err != nil {
					errs = append(errs, err)
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return rekey.Task{}, 0, err
		}
		if planned+worked == 0 {
			break
		}
	}
	elapsed := time.Since(start)
	got, err := p.svc.Get(ctx, p.admin, task.ID)
	if err != nil {
		return rekey.Task{}, 0, err
	}
	if !got.Status.Finished() {
		return got, elapsed, fmt.Errorf("task %s is %s after the queues emptied", got.ID, got.Status)
	}
	return got, elapsed, nil
}

// drain polls until the queue is empty and returns how many messages it
// handled.
func drain(ctx context.Context, p *queue.Poller) (int, error) {
	total := 0
	for {
		n, err := p.PollOnce(ctx)
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		total += n
	}
}
