// Package lambdalocal proves every function under the AWS Lambda Runtime
// Interface Emulator (aws-lambda-rie), the runtime API that SAM local runs
// inside its containers, without Docker:
//
//	go build functions/*  ─┐
//	go build aws-lambda-rie ┤   moto (table, queues, key, sender, demo district)
//	                        └─► for each function, one at a time:
//	                              aws-lambda-rie ./bootstrap  (loopback ports)
//	                              POST events/<name>.json ─► check the answer
//	                              read "Init Duration" and "Duration" off REPORT
//
// `make lambda-local` prints one line per function; its test runs it under
// `make test`; `make bench` reports the largest init duration. The HTTP
// functions are invoked after api-auth, whose sample signs the demo district
// admin in: its fresh token replaces the samples' placeholder bearer token.
// The bulk planner and worker get the real messages api-bulk's task put on
// their queues, inside their samples' envelopes.
package lambdalocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Result is one function's run under the emulator.
type Result struct {
	Function string
	// InitMs and DurationMs are the emulator's REPORT figures: the cold
	// start (process start to the runtime's first request for work) and the
	// invocation.
	InitMs, DurationMs float64
	Err                error
}

// String is the line `make lambda-local` prints.
func (r Result) String() string {
	if r.Err != nil {
		return fmt.Sprintf("FAIL %s: %v", r.Function, r.Err)
	}
	return fmt.Sprintf("ok %s init=%.0f duration=%.0f", r.Function, r.InitMs, r.DurationMs)
}

// Options say where the repository is and where progress goes.
type Options struct {
	// Root is the folder holding template.yaml, functions/ and events/.
	Root string
	// Progress, when set, is told each step as it begins.
	Progress func(step string)
}

// Run builds the functions and the emulator, starts the resources and
// invokes every function once. The error is for what stops the whole run
// (a build, moto); a function that fails its check has its Err set.
func Run(ctx context.Context, opt Options) ([]Result, error) {
	if opt.Progress == nil {
		opt.Progress = func(string) {}
	}
	functions, err := functionNames(opt.Root)
	if err != nil {
		return nil, err
	}
	buildDir := filepath.Join(opt.Root, ".build", "lambda-local")
	opt.Progress("building aws-lambda-rie and " + strconv.Itoa(len(functions)) + " functions for this machine")
	rie, err := buildEmulator(ctx, opt.Root, buildDir)
	if err != nil {
		return nil, err
	}
	if err := buildFunctions(ctx, opt.Root, buildDir, functions); err != nil {
		return nil, err
	}
	opt.Progress("starting moto with the table, queues, task key, sender and demo district")
	env, err := startResources(ctx, opt.Root)
	if err != nil {
		return nil, err
	}
	defer env.close()
	run := &invocations{ctx: ctx, env: env}
	var results []Result
	for _, name := range invocationOrder(functions) {
		res := Result{Function: name}
		check, ok := checks[name]
		if !ok {
			res.Err = fmt.Errorf("lambdalocal has no check for functions/%s: add one to checks", name)
			results = append(results, res)
			continue
		}
		event, err := check.event(run, filepath.Join(opt.Root, "events", name+".json"))
		if err == nil {
			var answer []byte
			answer, res.InitMs, res.DurationMs, err = invoke(ctx, rie, filepath.Join(buildDir, name), env.functionEnv(), event)
			if err == nil {
				err = check.answer(run, answer)
			}
		}
		res.Err = err
		results = append(results, res)
	}
	return results, nil
}

// functionNames lists the folders under functions/.
func functionNames(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, fmt.Errorf("lambdalocal: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("lambdalocal: no functions under %s", filepath.Join(root, "functions"))
	}
	return names, nil
}

// invocationOrder puts the functions whose answers others need first
// (api-auth's token, api-bulk's task for the planner, the planner's chunk
// for the worker) and the import last (its task would be a second one in
// api-tasks' listing; import-worker needs the chunk api-imports queued);
// the rest follow in name order.
func invocationOrder(functions []string) []string {
	first := []string{"api-auth", "api-bulk", "bulk-planner", "bulk-worker"}
	last := []string{"api-imports", "import-worker"}
	var out []string
	for _, name := range first {
		if slices.Contains(functions, name) {
			out = append(out, name)
		}
	}
	for _, name := range functions {
		if !slices.Contains(first, name) && !slices.Contains(last, name) {
			out = append(out, name)
		}
	}
	for _, name := range last {
		if slices.Contains(functions, name) {
			out = append(out, name)
		}
	}
	return out
}

// emulatorModule is the folder of the Go module that pins aws-lambda-rie;
// its dependencies stay out of Rekey's go.mod.
const (
	emulatorModule  = "infra/tools/rie"
	emulatorPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
)

// buildEmulator builds aws-lambda-rie at the version infra/tools/rie/go.mod
// pins. go build relinks nothing when the binary is up to date.
func buildEmulator(ctx context.Context, root, buildDir string) (string, error) {
	out := filepath.Join(buildDir, "aws-lambda-rie")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, emulatorPackage)
	cmd.Dir = filepath.Join(root, emulatorModule)
	if err := runBuild(cmd); err != nil {
		return "", fmt.Errorf("lambdalocal: cannot build aws-lambda-rie (%s, pinned in %s/go.mod; the first build downloads it through the Go module proxy): %w",
			emulatorPackage, emulatorModule, err)
	}
	return out, nil
}

// buildFunctions builds every function for this machine, in one go build
// so that the links run in parallel. The binaries are stripped as `make
// build` strips them (which also links faster); -trimpath is left out, as
// it would miss the packages `go test` has compiled into the build cache.
func buildFunctions(ctx context.Context, root, buildDir string, functions []string) error {
	args := []string{"build", "-ldflags=-s -w", "-o", buildDir + string(filepath.Separator)}
	for _, name := range functions {
		args = append(args, "./functions/"+name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := runBuild(cmd); err != nil {
		return fmt.Errorf("lambdalocal: cannot build the functions: %w", err)
	}
	return nil
}

func runBuild(cmd *exec.Cmd) error {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	// The build must not inherit a cross-compilation target from the shell.
	cmd.Env = append(cmd.Env, "GOOS=", "GOARCH=", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Emulator timeouts: booting a function and answering one sample event
// take well under a second; a busy two-core machine gets ample slack.
const (
	bootTimeout   = 30 * time.Second
	invokeTimeout = 60 * time.Second
)

// The emulator's log lines with the figures: INIT REPORT times the cold
// start (process start to the runtime's first request for work); REPORT
// times the invocation. (REPORT's own "Init Duration" is only the time the
// emulator took to hand the init over, not the function's init.)
var (
	initReport   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	invokeReport = regexp.MustCompile(`REPORT RequestId: \S+\s+(?:Init Duration: [0-9.]+ ms\s+)?Duration: ([0-9.]+) ms`)
)

// invoke boots one function binary under the emulator on loopback ports,
// posts the event, and returns the answer with the cold start's init and
// invoke durations. The emulator and the function are gone when it returns.
func invoke(ctx context.Context, rie, binary string, env []string, event []byte) (answer []byte, initMs, durationMs float64, err error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, 0, 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	log := &syncBuffer{}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]), binary)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, 0, 0, fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = killGroup(cmd)
		<-exited
		if err != nil {
			err = fmt.Errorf("%w\nemulator log (last lines):\n%s", err, log.tail(20))
		}
	}()
	if err := waitListening(ctx, addr, exited); err != nil {
		return nil, 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, invokeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return nil, 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("invoke: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, 0, fmt.Errorf("invoke: emulator answered %s: %s", resp.Status, answer)
	}
	// The emulator prints REPORT around the time it answers; give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := log.String()
		initM, invokeM := initReport.FindStringSubmatch(out), invokeReport.FindStringSubmatch(out)
		if initM != nil && invokeM != nil {
			initMs, _ = strconv.ParseFloat(initM[1], 64)
			durationMs, _ = strconv.ParseFloat(invokeM[1], 64)
			return answer, initMs, durationMs, nil
		}
		if time.Now().After(deadline) {
			return nil, 0, 0, errors.New("the emulator printed no INIT REPORT and REPORT lines")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitListening waits until the emulator accepts connections.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-exited:
			return errors.New("aws-lambda-rie exited before it listened")
		case <-ctx.Done():
			return fmt.Errorf("aws-lambda-rie did not listen on %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct free loopback ports, held together while
// they are picked so that they differ.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("lambdalocal: find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// syncBuffer collects the emulator's output, written from two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail is the last n lines, for a failure's message.
func (b *syncBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// jsonObject decodes an answer that must be a JSON object.
func jsonObject(raw []byte) (map[string]any, error) {
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("answer is not a JSON object: %v: %.300s", err, raw)
	}
	return v, nil
}
