// Package devstack runs the whole of Rekey on loopback: moto for AWS (or the
// endpoint in AWS_ENDPOINT_URL), the table created from template.yaml, the
// demo district, and the API served through the same handlers the Lambdas
// run. The local runner (`make dev`) and the end-to-end tests both use it.
package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rekey/rekey/infra/moto"
	"github.com/rekey/rekey/infra/seed"
	"github.com/rekey/rekey/infra/stack"
	"github.com/rekey/rekey/shared/app"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/mail/ses"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/queue"
	"github.com/rekey/rekey/shared/rekey"
)

// Options configure a stack; zero values give the `make dev` defaults.
type Options struct {
	// Addr is the listen address; "127.0.0.1:0" picks a free port.
	Addr string
	// DemoPassword is every demo account's password; generated when empty.
	DemoPassword string
	// Table defaults to "rekey-local".
	Table string
	// StudentsPerSchool defaults to 100.
	StudentsPerSchool int
	Logger            *slog.Logger
	// Hasher defaults to argon2id at the production cost.
	Hasher password.Hasher
	// SendRate is the emails per second all bulk workers share (moto has
	// no SES quota to read); defaults to 14, a new SES account's rate.
	SendRate float64
	// DispatchEvery is how often the schedule dispatcher and the bulk
	// sweeper tick; a minute by default, as their EventBridge rules do.
	DispatchEvery time.Duration
	// Progress, when set, is told each step of Start as it begins, so that
	// `make dev` can say what a slow first start is doing.
	Progress func(step string)
	// Approvals reads districts' approval thresholds for bulk resets; nil
	// turns approvals off (tests set their own).
	Approvals bulk.ApprovalThresholds
	// ReadTimeout bounds reading one whole request, body included;
	// DefaultReadTimeout when zero. Tests shorten it.
	ReadTimeout time.Duration
	// AWSConfig, when set, is given the AWS configuration before anything
	// uses it and returns the one to use: tests attach a middleware
	// recording each function's calls (see Function).
	AWSConfig func(aws.Config) aws.Config
}

// Timeouts of the local HTTP server. Without them a client that sends less
// body than its Content-Length (or half its headers) holds a connection
// and a goroutine for ever. API Gateway, in front of the Lambdas, gives up
// on a request after 30 seconds; the local runner does the same.
const (
	DefaultReadTimeout = 30 * time.Second
	// maxReadHeaderTimeout bounds the headers alone, which are small.
	maxReadHeaderTimeout = 10 * time.Second
	// idleTimeout closes keep-alive connections nobody uses.
	idleTimeout = 2 * time.Minute
)

// newHTTPServer returns the server of the local runner: h, with read
// timeouts of readTimeout for a whole request (headers within the smaller
// of it and maxReadHeaderTimeout) and idleTimeout between requests. There is
// no write timeout: a large results.csv may take a while to download.
func newHTTPServer(h http.Handler, readTimeout time.Duration) *http.Server {
	if readTimeout <= 0 {
		readTimeout = DefaultReadTimeout
	}
	return &http.Server{
		Handler:           h,
		ReadTimeout:       readTimeout,
		ReadHeaderTimeout: min(readTimeout, maxReadHeaderTimeout),
		IdleTimeout:       idleTimeout,
	}
}

// Stack is a running local system.
type Stack struct {
	// URL is the console and API origin, e.g. http://127.0.0.1:8080.
	URL string
	// Password is the demo accounts' password.
	Password string
	// Seeded says whether this start created the demo district.
	Seeded bool
	App    *app.App
	Demo   seed.Summary
	// Resources are the table, queues, bucket and key it runs on.
	Resources Resources

	moto    *moto.Server
	server  *http.Server
	done    chan error
	mail    *recordingMailer
	workers sync.WaitGroup
	stop    context.CancelFunc
	queues  queueLog
}

// Mail returns the emails the system has sent, oldest first.
func (s *Stack) Mail() []SentEmail { return s.mail.Sent() }

// Start brings the stack up and returns once it serves requests.
func Start(ctx context.Context, opt Options) (_ *Stack, err error) {
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:8080"
	}
	if opt.Table == "" {
		opt.Table = "rekey-local"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.DispatchEvery <= 0 {
		opt.DispatchEvery = time.Minute
	}
	if opt.Progress == nil {
		opt.Progress = func(string) {}
	}
	s := &Stack{done: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if endpoint := os.Getenv("AWS_ENDPOINT_URL"); endpoint != "" {
		opt.Progress("using the AWS emulator at AWS_ENDPOINT_URL=" + endpoint)
	} else {
		opt.Progress("starting moto_server (local AWS)")
	}
	if err := s.awsEnvironment(ctx); err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("devstack: AWS configuration: %w", err)
	}
	if opt.AWSConfig != nil {
		awsCfg = opt.AWSConfig(awsCfg)
	}
	template, err := stack.FindTemplate()
	if err != nil {
		return nil, err
	}
	opt.Progress("creating the table, queues, task key and mail sender from template.yaml")
	res, err := CreateResources(ctx, awsCfg, template, opt.Table)
	if err != nil {
		return nil, err
	}
	s.Resources = res
	const configurationSet = "rekey-local-mail"
	if err := createConfigurationSet(ctx, sesv2.NewFromConfig(awsCfg), configurationSet); err != nil {
		return nil, err
	}
	s.mail = &recordingMailer{next: ses.NewSender(sesv2.NewFromConfig(awsCfg), Sender, configurationSet)}

	listener, err := net.Listen("tcp", opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("devstack: listen on %s (set REKEY_ADDR to use another address): %w", opt.Addr, err)
	}
	s.URL = "http://" + listener.Addr().String()
	cfg := app.Config{
		Table: res.Table, PublicBaseURL: s.URL, SenderEmail: Sender, SESConfigurationSet: configurationSet,
		MailQueueURL:         res.Queues["MailQueue"].URL,
		BulkPlanQueueURL:     res.Queues["BulkPlanQueue"].URL,
		BulkWorkQueueURL:     res.Queues["BulkWorkQueue"].URL,
		BulkPasswordQueueURL: res.Queues["BulkPasswordQueue"].URL,
		TaskKeyID:            res.TaskKeyID,
		Bulk:                 bulk.Config{SendRate: opt.SendRate, WorkerConcurrency: localWorkers},
		ImportQueueURL:       res.Queues["ImportQueue"].URL,
		ImportBucket:         res.Bucket,
	}
	s.App, err = app.New(ctx, cfg, awsCfg, app.Options{Logger: opt.Logger, Hasher: opt.Hasher, Mailer: s.mail, Approvals: opt.Approvals})
	if err != nil {
		listener.Close()
		return nil, err
	}

	s.Password = opt.DemoPassword
	if s.Password == "" {
		if s.Password, err = password.Generate(); err != nil {
			listener.Close()
			return nil, err
		}
	}
	opt.Progress("seeding the demo district unless the store holds it (hashing every demo password with argon2id takes longest)")
	s.Demo, err = seed.Demo(ctx, s.App.Store, opt.Hasher, seed.Options{Password: s.Password, StudentsPerSchool: opt.StudentsPerSchool})
	if err != nil {
		listener.Close()
		return nil, err
	}
	s.Seeded = s.Demo.Created

	// The queue workers run in process, polling as Lambda's event source
	// mappings would; failed messages come back after a few seconds.
	workCtx, stopWork := context.WithCancel(context.Background())
	s.stop = stopWork
	sqsClient := sqs.NewFromConfig(awsCfg)
	poll := func(logicalID string, h queue.Handler) {
		q := res.Queues[logicalID]
		p := queue.NewPoller(sqsClient, q.URL, q.ARN, awsCfg.Region, s.queues.wrap(logicalID, servedBy(queueFunctions[logicalID], h)))
		p.WaitTime = time.Second
		p.FailedVisibility = 2 * time.Second
		p.Logger = opt.Logger
		s.workers.Go(func() { p.Run(workCtx) })
	}
	poll("MailQueue", s.App.MailWorker.Handle)
	poll("BulkPlanQueue", s.App.BulkPlanner.Handle)
	for range localWorkers {
		poll("BulkWorkQueue", s.App.BulkWorker.Handle)
	}
	// Password deliveries have their own queue and workers (on AWS their
	// own function, sized for argon2id rather than SES).
	for range localPasswordWorkers {
		poll("BulkPasswordQueue", s.App.BulkWorker.Handle)
	}
	poll("ImportQueue", s.App.ImportWorker.HandleSQS)
	// EventBridge never fires on moto: tick the schedule dispatcher and
	// the bulk sweeper here.
	s.workers.Go(func() { s.tickDispatcher(workCtx, opt.DispatchEvery, opt.Logger) })

	s.server = newHTTPServer(s.handler(), opt.ReadTimeout)
	go func() { s.done <- s.server.Serve(listener) }()
	return s, nil
}

// localWorkers is how many bulk workers run in process, as the work queue's
// MaximumConcurrency does on AWS.
const localWorkers = 2

// localPasswordWorkers is how many bulk workers poll the password work
// queue in process. On AWS the path is as wide as
// BulkPasswordWorkerFunction's MaximumConcurrency; here each worker already
// hashes on every core, so two keep the cores busy between chunks.
const localPasswordWorkers = 2

// tickDispatcher runs the schedule dispatcher and the bulk sweeper now and
// then every interval until ctx ends, as their EventBridge rules do;
// errors are logged, never fatal.
func (s *Stack) tickDispatcher(ctx context.Context, every time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := s.App.Dispatcher.Run(withFunction(ctx, functionDispatcher), time.Now()); err != nil && ctx.Err() == nil {
			logger.ErrorContext(ctx, "schedule dispatcher", "err", err)
		}
		if _, err := s.App.BulkSweeper.Sweep(withFunction(ctx, functionSweeper), time.Now()); err != nil && ctx.Err() == nil {
			logger.ErrorContext(ctx, "bulk sweeper", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// verifySender creates the SES identity of the sender, as the template's
// SenderIdentity does on AWS (moto verifies it at once).
func verifySender(ctx context.Context, client *sesv2.Client, sender string) error {
	_, err := client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)})
	var exists *sestypes.AlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("devstack: verify sender %s: %w", sender, err)
	}
	return nil
}

// createConfigurationSet creates the SES configuration set every email is
// sent with, as the template's MailConfigurationSet does on AWS. (moto
// accepts it but emits no events: POST /_local/ses-events stands in.)
func createConfigurationSet(ctx context.Context, client *sesv2.Client, name string) error {
	_, err := client.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String(name)})
	var exists *sestypes.AlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("devstack: create SES configuration set %s: %w", name, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// handler is everything the deployment serves on one origin, plus the
// local-only routes.
func (s *Stack) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", byFunction(s.App.API.Handler()))
	s.addLocalRoutes(mux)
	return mux
}

// addLocalRoutes mounts the local-only routes on mux. They bypass the
// API's middleware, so each is given its own X-Request-Id here: API.md
// says every response carries one, and a test reporting a failed local
// call can then name it like any other.
func (s *Stack) addLocalRoutes(mux *http.ServeMux) {
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /_local/mail":        s.serveMail,
		"GET /_local/mail/{n}":    s.serveMessage,
		"POST /_local/ses-events": s.serveSESEvent,
	} {
		mux.Handle(pattern, withRequestID(h))
	}
}

// withRequestID answers h with a fresh X-Request-Id header.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", rekey.NewID())
		h.ServeHTTP(w, r)
	})
}

// createBucket creates the import bucket on moto (an existing one is
// fine: `make dev` restarts against the same moto), with the template's
// one-day expiry of uploads.
func createBucket(ctx context.Context, client *s3.Client, name string) error {
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("devstack: create bucket %s: %w", name, err)
	}
	_, err = client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String(name),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
			ID: aws.String("ExpireUploads"), Status: s3types.ExpirationStatusEnabled,
			Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String("uploads/")},
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(1)},
		}}},
	})
	if err != nil {
		return fmt.Errorf("devstack: bucket %s lifecycle: %w", name, err)
	}
	return nil
}

// awsEnvironment points the SDK at moto: the one in AWS_ENDPOINT_URL when
// set, else a moto_server started here.
func (s *Stack) awsEnvironment(ctx context.Context) error {
	setDefault := func(k, v string) {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	setDefault("AWS_REGION", "us-east-1")
	setDefault("AWS_ACCESS_KEY_ID", "local")
	setDefault("AWS_SECRET_ACCESS_KEY", "local")
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		return nil
	}
	m, err := moto.Start(ctx)
	if err != nil {
		return err
	}
	s.moto = m
	os.Setenv("AWS_ENDPOINT_URL", m.Endpoint())
	return nil
}

// Close stops the HTTP server and the moto it started.
func (s *Stack) Close() error {
	var errs []error
	if s.stop != nil {
		s.stop()
		s.workers.Wait()
	}
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs = append(errs, s.server.Shutdown(ctx))
		if err := <-s.done; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if s.moto != nil {
		errs = append(errs, s.moto.Stop())
		os.Unsetenv("AWS_ENDPOINT_URL")
	}
	return errors.Join(errs...)
}
