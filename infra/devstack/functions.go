package devstack

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/queue"
)

// The local runner serves in one process what AWS spreads over many
// functions, each with its own IAM policy. Every request and every message
// is handled under a context naming the function that would serve it on
// AWS, so that a test can hold each function's AWS calls to its policy in
// template.yaml (see infra/iamcheck); calls made outside that work (the
// seed, the pollers' receives, a test's own set-up) name none.

// functionKey is the context key of the serving function's name.
type functionKey struct{}

// withFunction returns ctx naming fn as the function doing its work: a
// folder under functions/ (an HTTP function, as the route table names
// them) or a template logical id (where one folder runs two functions).
func withFunction(ctx context.Context, fn string) context.Context {
	return context.WithValue(ctx, functionKey{}, fn)
}

// Function returns the function whose work ctx is part of (see
// withFunction); "" outside any.
func Function(ctx context.Context) string {
	fn, _ := ctx.Value(functionKey{}).(string)
	return fn
}

// Functions run by the local runner besides the HTTP ones, by their
// logical ids in template.yaml.
const (
	functionDispatcher = "ScheduleDispatcherFunction"
	functionSweeper    = "BulkSweeperFunction"
	functionMailEvents = "MailEventsFunction"
)

// queueFunctions are the functions consuming each queue the local runner
// polls, by logical id in template.yaml (a test checks them against its
// SQS events).
var queueFunctions = map[string]string{
	"MailQueue":         "MailWorkerFunction",
	"BulkPlanQueue":     "BulkPlannerFunction",
	"BulkWorkQueue":     "BulkWorkerFunction",
	"BulkPasswordQueue": "BulkPasswordWorkerFunction",
	"ImportQueue":       "ImportWorkerFunction",
}

// servedBy returns h handling every batch as the function fn.
func servedBy(fn string, h queue.Handler) queue.Handler {
	return func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
		return h(withFunction(ctx, fn), event)
	}
}

// byFunction returns h serving each request as the function the route
// table gives its route; a request no route takes (answered 404 or 405)
// names none, as API Gateway would invoke no function.
func byFunction(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, r := range api.Routes {
		pattern := r.Method + " " + r.Pattern
		if r.Pattern == "/" {
			pattern = r.Method + " /{path...}" // the console's catch-all
		}
		fn := r.Function
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			h.ServeHTTP(w, req.WithContext(withFunction(req.Context(), fn)))
		}))
	}
	mux.Handle("/", h)
	return mux
}
