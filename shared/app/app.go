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
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/console"
	"github.com/rekey/rekey/shared/district"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/guardians"
	"github.com/rekey/rekey/shared/imports"
	"github.com/rekey/rekey/shared/mail/ses"
	"github.com/rekey/rekey/shared/mailevents"
	"github.com/rekey/rekey/shared/mailworker"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/queue"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/schedule"
	"github.com/rekey/rekey/shared/uploads"
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
	// BulkPasswordQueueURL is the work queue of password deliveries
	// (REKEY_BULK_PASSWORD_QUEUE_URL; see bulk.WorkQueues); empty sends
	// every chunk to BulkWorkQueueURL.
	BulkPasswordQueueURL string
	// TaskKeyID is the KMS key that seals bulk tasks' passwords
	// (REKEY_TASK_KEY_ID).
	TaskKeyID string
	// Bulk holds the SES rate, daily quota and worker concurrency
	// (REKEY_SES_RATE and friends; see bulk.ConfigFromEnv).
	Bulk bulk.Config
	// ImportQueueURL is the queue of import chunks (REKEY_IMPORT_QUEUE_URL);
	// ImportBucket the S3 bucket of large import files (REKEY_IMPORT_BUCKET).
	ImportQueueURL string
	ImportBucket   string
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

		BulkPlanQueueURL:     os.Getenv("REKEY_BULK_PLAN_QUEUE_URL"),
		BulkWorkQueueURL:     os.Getenv("REKEY_BULK_WORK_QUEUE_URL"),
		BulkPasswordQueueURL: os.Getenv("REKEY_BULK_PASSWORD_QUEUE_URL"),
		TaskKeyID:            os.Getenv("REKEY_TASK_KEY_ID"),
		ImportQueueURL:       os.Getenv("REKEY_IMPORT_QUEUE_URL"),
		ImportBucket:         os.Getenv("REKEY_IMPORT_BUCKET"),
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
		"REKEY_IMPORT_QUEUE_URL":    c.ImportQueueURL,
		"REKEY_IMPORT_BUCKET":       c.ImportBucket,
	} {
		if value == "" {
			return fmt.Errorf("app: %s is not set", name)
		}
	}
	return nil
}

// App is the assembled system, or the parts of it that Options.Functions
// named; the others are nil.
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
	// BulkDeadLetters gives up the chunks whose work messages ended in a
	// dead-letter queue (SQS, both bulk work DLQs).
	BulkDeadLetters *bulk.DeadLetters
	// Dispatcher starts due schedules (EventBridge, every minute).
	Dispatcher *schedule.Dispatcher
	// MailEvents records SES's deliveries, bounces and complaints
	// (EventBridge rule on the configuration set's events).
	MailEvents *mailevents.Handler
	// Imports starts imports; ImportWorker applies their chunks (SQS).
	Imports      *imports.Service
	ImportWorker *imports.Worker
	Logger       *slog.Logger
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
	// Functions names the functions this process serves (folders under
	// functions/: the api.Function* and app.Function* names). A Lambda
	// names its own and builds only the clients and services they need,
	// which keeps its cold start short (the console alone takes about
	// 100 ms to build); the parts it does not need stay nil. Empty means
	// every function: the local runner and the tests.
	Functions []string
	// Approvals reads districts' approval thresholds for bulk resets; nil
	// means the districts' settings (district.Service) answer it.
	Approvals bulk.ApprovalThresholds
}

// The worker functions' names (folders under functions/); the HTTP
// functions' names are shared/api's Function* constants.
const (
	FunctionMailWorker         = "mail-worker"
	FunctionBulkPlanner        = "bulk-planner"
	FunctionBulkWorker         = "bulk-worker"
	FunctionBulkSweeper        = "bulk-sweeper"
	FunctionBulkDeadLetters    = "bulk-dead-letters"
	FunctionScheduleDispatcher = "schedule-dispatcher"
	FunctionMailEvents         = "mail-events"
	FunctionImportWorker       = "import-worker"
)

// parts says which parts of the system a set of functions needs.
type parts struct {
	api, console, bulk, mailWorker, planner, bulkWorker, sweeper, dispatcher, mailEvents, imports, importWorker, deadLetters bool
}

// partsFor reads the functions' needs. Every HTTP function gets the
// store-backed services of the API (auth for the sign-in check, with the
// reset service as its notifier; users and schedules, which make no
// client); the console, the bulk service (KMS, the plan queue) and the
// workers (SES) only where they are served.
func partsFor(functions []string) (parts, error) {
	if len(functions) == 0 {
		return parts{true, true, true, true, true, true, true, true, true, true, true, true}, nil
	}
	var p parts
	for _, fn := range functions {
		switch fn {
		case api.FunctionAuth, api.FunctionUsers, api.FunctionResets:
			p.api = true
		case api.FunctionSchedules:
			// Schedules count their selection with the bulk service's
			// bounded count against the approval threshold.
			p.api, p.bulk = true, true
		case api.FunctionConsole:
			p.api, p.console = true, true
		case api.FunctionBulk, api.FunctionTasks:
			p.api, p.bulk = true, true
		case FunctionMailWorker:
			p.mailWorker = true
		case FunctionBulkPlanner:
			p.planner = true
		case FunctionBulkWorker:
			p.bulkWorker = true
		case FunctionBulkSweeper:
			p.sweeper = true
		case FunctionBulkDeadLetters:
			p.deadLetters = true
		case FunctionScheduleDispatcher:
			p.dispatcher, p.bulk = true, true
		case FunctionMailEvents:
			p.mailEvents = true
		case api.FunctionImports:
			p.api, p.imports = true, true
		case FunctionImportWorker:
			p.importWorker = true
		default:
			return p, fmt.Errorf("app: no function is named %q", fn)
		}
	}
	return p, nil
}

// New builds the system, or the parts of it opt.Functions need, on the
// given AWS configuration. It makes no network call, so it is cheap at cold
// start.
func New(ctx context.Context, cfg Config, awsCfg aws.Config, opt Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	need, err := partsFor(opt.Functions)
	if err != nil {
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
	a := &App{Config: cfg, Logger: logger}
	a.Store = dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.Table, now)
	// Each client is made on first use, so a function makes only its own.
	sqsClient := sync.OnceValue(func() *sqs.Client { return sqs.NewFromConfig(awsCfg) })
	sesClient := sync.OnceValue(func() *sesv2.Client { return sesv2.NewFromConfig(awsCfg) })
	// The mail queue: one job at a time from the API, batches of notices
	// from the bulk worker, and delayed leftovers from the mail worker.
	mailQueue := sync.OnceValue(func() *queue.Sender { return queue.NewSender(sqsClient(), cfg.MailQueueURL) })
	plans := sync.OnceValue(func() *queue.Sender { return queue.NewSender(sqsClient(), cfg.BulkPlanQueueURL) })
	// Chunks go to the work queue of their delivery: password deliveries
	// to their own queue when one is configured (see bulk.WorkQueues).
	var work *bulk.WorkQueues
	if need.planner || need.bulkWorker || need.sweeper {
		var passwordWork bulk.DelayedQueue
		if cfg.BulkPasswordQueueURL != "" {
			passwordWork = queue.NewSender(sqsClient(), cfg.BulkPasswordQueueURL)
		}
		if work, err = bulk.NewWorkQueues(queue.NewSender(sqsClient(), cfg.BulkWorkQueueURL), passwordWork); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	keys := sync.OnceValue(func() *kmskeys.Keys { return kmskeys.New(kms.NewFromConfig(awsCfg), cfg.TaskKeyID) })
	mailer := sync.OnceValue(func() mailworker.Mailer {
		if opt.Mailer != nil {
			return opt.Mailer
		}
		return ses.NewSender(sesClient(), cfg.SenderEmail, cfg.SESConfigurationSet)
	})
	bulkCfg := cfg.Bulk
	bulkCfg.PublicBaseURL = cfg.PublicBaseURL

	if need.api || need.mailWorker {
		if a.Resets, err = resets.NewService(cfg.Resets, resets.Deps{
			Store: a.Store, Queue: mailQueue(), Hasher: opt.Hasher, Logger: serviceLog, Now: now,
		}); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	if need.api {
		a.Auth = auth.NewService(auth.Config{}, auth.Deps{
			Store: a.Store, Throttles: a.Store, Hasher: opt.Hasher, Notifier: a.Resets, Logger: serviceLog, Now: now,
		})
		a.Users = users.NewService(a.Store, now)
	}
	if need.bulk {
		approvals := opt.Approvals
		if approvals == nil {
			approvals = district.NewService(a.Store, now)
		}
		if a.Bulk, err = bulk.NewService(bulk.ServiceDeps{
			Store: a.Store, Plans: plans(), Keys: keys(), Approvals: approvals, Notices: mailQueue(), Logger: serviceLog, Now: now,
		}); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	// Import files over the direct limit are uploaded to S3; path-style
	// addresses when an endpoint is set (moto on loopback has no
	// per-bucket host names).
	importFiles := sync.OnceValue(func() *uploads.Bucket {
		return uploads.New(s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			o.UsePathStyle = awsCfg.BaseEndpoint != nil
			o.DisableLogOutputChecksumValidationSkipped = true
		}), cfg.ImportBucket)
	})
	if need.imports {
		if a.Imports, err = imports.NewService(imports.Deps{
			Store: a.Store, Files: importFiles(), Queue: queue.NewSender(sqsClient(), cfg.ImportQueueURL), Logger: serviceLog, Now: now,
		}); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	if need.importWorker {
		a.ImportWorker = imports.NewWorker(a.Store, importFiles(), logger, now)
	}
	if need.api {
		// An interface holding a nil pointer is not nil: pass the bulk
		// service only when it exists.
		var counter schedule.ApprovalCounter
		if a.Bulk != nil {
			counter = a.Bulk
		}
		a.Schedules = schedule.NewService(a.Store, counter, now)
		deps := api.Deps{
			Auth: a.Auth, Users: a.Users, Secrets: a.Store, Resets: a.Resets, Schedules: a.Schedules,
			District: district.NewService(a.Store, now), PublicBaseURL: cfg.PublicBaseURL, Logger: logger,
			Guardians: guardians.NewService(a.Store, keys(), opt.Hasher, a.Resets, guardians.DefaultConfig, now),
		}
		// An interface holding a nil pointer is not nil: set only what exists.
		if a.Bulk != nil {
			deps.Bulk = a.Bulk
		}
		if need.console {
			deps.Console = console.Handler()
		}
		if a.Imports != nil {
			deps.Imports = a.Imports
		}
		a.API = api.New(deps)
	}
	if need.mailWorker {
		if a.MailWorker, err = mailworker.NewHandler(mailworker.Config{PublicBaseURL: cfg.PublicBaseURL}, mailworker.Deps{
			Deliveries: a.Store, Resets: a.Resets, Mailer: mailer(), Requeue: mailQueue(), Audit: a.Store, Logger: logger, Now: now,
		}); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	if need.planner {
		if a.BulkPlanner, err = bulk.NewPlanner(bulkCfg, bulk.PlannerDeps{Store: a.Store, Work: work, Plans: plans(), Notices: mailQueue(), Logger: logger, Now: now}); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	if need.bulkWorker {
		if a.BulkWorker, err = bulk.NewWorker(bulkCfg, bulk.WorkerDeps{
			Store: a.Store, Work: work, Keys: keys(), Notices: mailQueue(), Mailer: mailer(), Hasher: opt.Hasher,
			Account: ses.NewAccount(sesClient()), Logger: logger, Now: now,
		}); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	if need.sweeper {
		if a.BulkSweeper, err = bulk.NewSweeper(bulk.SweeperDeps{Store: a.Store, Work: work, Logger: logger}); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	if need.deadLetters {
		if a.BulkDeadLetters, err = bulk.NewDeadLetters(bulkCfg, bulk.DeadLetterDeps{Store: a.Store, Logger: logger, Now: now}); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	if need.dispatcher {
		a.Dispatcher = schedule.NewDispatcher(a.Store, a.Bulk, logger)
	}
	if need.mailEvents {
		a.MailEvents = mailevents.NewHandler(mailEventRecorder(a.Store), logger)
	}
	return a, nil
}

// mailEventRecorder is the store when it records mail events against task
// results (dynamo.Store and memstore.Store do, through a lookup per sent
// email). A store that does not gets a stand-in failing every event with
// ErrNoMailEventStore: Lambda retries it and the DLQ keeps it.
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
// standard variables apply) and build what the named functions need (see
// Options.Functions), logging JSON through the Lambda runtime's slog
// handler, which adds the Lambda request id.
func Load(ctx context.Context, functions ...string) (*App, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("app: load AWS configuration: %w", err)
	}
	if len(functions) == 0 {
		return nil, fmt.Errorf("app: Load needs the names of the functions to serve")
	}
	return New(ctx, cfg, awsCfg, Options{Logger: lambdacontext.NewLogger(), Functions: functions})
}
