// Package app assembles Rekey from its parts: configuration read once from
// the environment, the AWS clients, the store, the services and the HTTP
// server. Every function's main.go and the local runner build the system
// through New, so a Lambda and `make dev` run the very same handlers.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/console"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/mail/ses"
	"github.com/rekey/rekey/shared/mailevents"
	"github.com/rekey/rekey/shared/mailworker"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/queue"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/schedule"
	"github.com/rekey/rekey/shared/users"
)

// Config is everything Rekey reads from its environment.
type Config struct {
	// Table is the DynamoDB table (REKEY_TABLE).
	Table string
	// PublicBaseURL is the console origin users see (REKEY_PUBLIC_BASE_URL);
	// links in emails are built from it, never from a request's Host header.
	PublicBaseURL string
	// SenderEmail is the verified SES sender (REKEY_SENDER_EMAIL).
	SenderEmail string
	// SESConfigurationSet is the SES configuration set every email is sent
	// with (REKEY_SES_CONFIGURATION_SET), whose event destination brings
	// deliveries, bounces and complaints back to the mail-events function;
	// "" sends without one (moto, which emits no events anyway).
	SESConfigurationSet string
	// MailQueueURL is the SQS queue of the mail worker (REKEY_MAIL_QUEUE_URL).
	MailQueueURL string
	// Resets holds link expiries and forgot-password limits
	// (REKEY_RESET_LINK_EXPIRY and friends; see resets.ConfigFromEnv).
	Resets resets.Config
	// BulkPlanQueueURL and BulkWorkQueueURL are the bulk pipeline's queues
	// (REKEY_BULK_PLAN_QUEUE_URL, REKEY_BULK_WORK_QUEUE_URL).
	BulkPlanQueueURL string
	BulkWorkQueueURL string
	// TaskKeyID is the KMS key that seals bulk tasks' passwords
	// (REKEY_TASK_KEY_ID).
	TaskKeyID string
	// Bulk holds the SES rate, daily quota and worker concurrency
	// (REKEY_SES_RATE and friends; see bulk.ConfigFromEnv).
	Bulk bulk.Config
}

// ConfigFromEnv reads the configuration and says which variable is missing
// or malformed.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		Table:         os.Getenv("REKEY_TABLE"),
		PublicBaseURL: strings.TrimRight(os.Getenv("REKEY_PUBLIC_BASE_URL"), "/"),
		SenderEmail:   os.Getenv("REKEY_SENDER_EMAIL"),

		SESConfigurationSet: os.Getenv("REKEY_SES_CONFIGURATION_SET"),
		MailQueueURL:        os.Getenv("REKEY_MAIL_QUEUE_URL"),

		BulkPlanQueueURL: os.Getenv("REKEY_BULK_PLAN_QUEUE_URL"),
		BulkWorkQueueURL: os.Getenv("REKEY_BULK_WORK_QUEUE_URL"),
		TaskKeyID:        os.Getenv("REKEY_TASK_KEY_ID"),
	}
	var err error
	if cfg.Resets, err = resets.ConfigFromEnv(os.LookupEnv); err != nil {
		return cfg, fmt.Errorf("app: %w", err)
	}
	if cfg.Bulk, err = bulk.ConfigFromEnv(os.LookupEnv); err != nil {
		return cfg, fmt.Errorf("app: %w", err)
	}
	return cfg, cfg.Validate()
}

// Validate reports the first missing or malformed setting.
func (c Config) Validate() error {
	if c.Table == "" {
		return fmt.Errorf("app: REKEY_TABLE is not set")
	}
	u, err := url.Parse(c.PublicBaseURL)
	if c.PublicBaseURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" {
		return fmt.Errorf("app: REKEY_PUBLIC_BASE_URL must be an origin like https://rekey.example.org, got %q", c.PublicBaseURL)
	}
	if !strings.Contains(c.SenderEmail, "@") {
		return fmt.Errorf("app: REKEY_SENDER_EMAIL must be an email address, got %q", c.SenderEmail)
	}
	for name, value := range map[string]string{
		"REKEY_MAIL_QUEUE_URL":      c.MailQueueURL,
		"REKEY_BULK_PLAN_QUEUE_URL": c.BulkPlanQueueURL,
		"REKEY_BULK_WORK_QUEUE_URL": c.BulkWorkQueueURL,
		"REKEY_TASK_KEY_ID":         c.TaskKeyID,
	} {
		if value == "" {
			return fmt.Errorf("app: %s is not set", name)
		}
	}
	return nil
}

// App is the assembled system.
type App struct {
	Config Config
	Store  *dynamo.Store
	Auth   *auth.Service
	Users  *users.Service
	Resets *resets.Service
	// Schedules saves bulk resets that run on an expression.
	Schedules *schedule.Service
	// Bulk starts bulk resets and serves the task centre.
	Bulk *bulk.Service
	API  *api.Server
	// MailWorker handles the mail queue's batches.
	MailWorker *mailworker.Handler
	// BulkPlanner and BulkWorker handle the bulk plan and work queues.
	BulkPlanner *bulk.Planner
	BulkWorker  *bulk.Worker
	// BulkSweeper puts back the chunks of dead workers (EventBridge,
	// every minute).
	BulkSweeper *bulk.Sweeper
	// Dispatcher starts due schedules (EventBridge, every minute).
	Dispatcher *schedule.Dispatcher
	// MailEvents records SES's deliveries, bounces and complaints
	// (EventBridge rule on the configuration set's events).
	MailEvents *mailevents.Handler
	Logger     *slog.Logger
}

// Options are the parts a caller may replace: tests pass a fake clock.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Hasher defaults to argon2id at password.DefaultParams.
	Hasher password.Hasher
	// Mailer sends rendered email; defaults to SES v2 from SenderEmail. The
	// local runner wraps SES to also keep what was sent for /_local/mail.
	Mailer mailworker.Mailer
}

// New builds the system on the given AWS configuration. It makes no network
// call, so it is cheap at cold start.
func New(ctx context.Context, cfg Config, awsCfg aws.Config, opt Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	serviceLog := api.WithRequestIDs(logger)
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.Table, now)
	sqsClient := sqs.NewFromConfig(awsCfg)
	// The mail queue: one job at a time from the API, batches of notices
	// from the bulk worker, and delayed leftovers from the mail worker.
	mailQueue := queue.NewSender(sqsClient, cfg.MailQueueURL)
	resetSvc, err := resets.NewService(cfg.Resets, resets.Deps{
		Store:  store,
		Queue:  mailQueue,
		Hasher: opt.Hasher,
		Logger: serviceLog,
		Now:    now,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	authSvc := auth.NewService(auth.Config{}, auth.Deps{
		Store:     store,
		Throttles: store,
		Hasher:    opt.Hasher,
		Notifier:  resetSvc,
		Logger:    serviceLog,
		Now:       now,
	})
	usersSvc := users.NewService(store, now)
	schedules := schedule.NewService(store, now)
	mailer := opt.Mailer
	if mailer == nil {
		mailer = ses.NewSender(sesv2.NewFromConfig(awsCfg), cfg.SenderEmail, cfg.SESConfigurationSet)
	}
	worker, err := mailworker.NewHandler(mailworker.Config{PublicBaseURL: cfg.PublicBaseURL}, mailworker.Deps{
		Deliveries: store, Resets: resetSvc, Mailer: mailer, Requeue: mailQueue, Logger: logger, Now: now,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	plans, work := queue.NewSender(sqsClient, cfg.BulkPlanQueueURL), queue.NewSender(sqsClient, cfg.BulkWorkQueueURL)
	keys := kmskeys.New(kms.NewFromConfig(awsCfg), cfg.TaskKeyID)
	bulkCfg := cfg.Bulk
	bulkCfg.PublicBaseURL = cfg.PublicBaseURL
	bulkSvc, err := bulk.NewService(bulk.ServiceDeps{Store: store, Plans: plans, Keys: keys, Logger: serviceLog, Now: now, CancelWait: cfg.Bulk.CancelWait})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	planner, err := bulk.NewPlanner(bulkCfg, bulk.PlannerDeps{Store: store, Work: work, Plans: plans, Logger: logger, Now: now})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	bulkWorker, err := bulk.NewWorker(bulkCfg, bulk.WorkerDeps{
		Store: store, Work: work, Keys: keys, Notices: mailQueue, Mailer: mailer, Hasher: opt.Hasher,
		Account: ses.NewAccount(sesv2.NewFromConfig(awsCfg)), Logger: logger, Now: now,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	sweeper, err := bulk.NewSweeper(bulk.SweeperDeps{Store: store, Work: work, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	server := api.New(api.Deps{
		Auth: authSvc, Users: usersSvc, Secrets: store, Resets: resetSvc, Schedules: schedules, Bulk: bulkSvc,
		Console: console.Handler(), Logger: logger,
	})
	return &App{
		Config: cfg, Store: store, Auth: authSvc, Users: usersSvc, Resets: resetSvc, Schedules: schedules, Bulk: bulkSvc,
		API: server, MailWorker: worker, BulkPlanner: planner, BulkWorker: bulkWorker, BulkSweeper: sweeper,
		Dispatcher: schedule.NewDispatcher(store, bulkSvc, logger), MailEvents: mailevents.NewHandler(mailEventRecorder(store), logger),
		Logger: logger,
	}, nil
}

// mailEventRecorder is the store once it records mail events against task
// results (issue 10's per-user state, built separately). Until then every
// event fails with ErrNoMailEventStore: Lambda retries it and the DLQ keeps
// it, to be redriven once the store records them; nothing is lost.
func mailEventRecorder(store any) mailevents.Recorder {
	if r, ok := store.(mailevents.Recorder); ok {
		return r
	}
	return unrecordedMailEvents{}
}

// ErrNoMailEventStore is what mail events meet until the store records them.
var ErrNoMailEventStore = errors.New("app: the store does not record mail events yet")

// unrecordedMailEvents refuses every event with ErrNoMailEventStore.
type unrecordedMailEvents struct{}

func (unrecordedMailEvents) RecordMailEvent(context.Context, rekey.MailEvent) error {
	return ErrNoMailEventStore
}

// Load is what every function's main does at cold start: read the
// configuration, load the AWS configuration (AWS_ENDPOINT_URL and the other
// standard variables apply) and build the system logging JSON through the
// Lambda runtime's slog handler, which adds the Lambda request id.
func Load(ctx context.Context) (*App, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("app: load AWS configuration: %w", err)
	}
	return New(ctx, cfg, awsCfg, Options{Logger: lambdacontext.NewLogger()})
}
