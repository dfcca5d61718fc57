// Package moto runs moto_server, the local AWS emulator, as a child process
// for integration tests and the local runner.
package moto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// InstallHint says how to get moto_server where a system-wide `pip install`
// is refused (Debian and Ubuntu, PEP 668): the project's .venv/ with the
// versions pinned in infra/tools/requirements.txt, which make builds itself.
const InstallHint = "`make dev` and `make test` install the pinned moto into .venv/ when it is missing; by hand: " +
	"python3 -m venv .venv && .venv/bin/pip install -r infra/tools/requirements.txt && export PATH=\"$PWD/.venv/bin:$PATH\" " +
	"(on Debian and Ubuntu first: sudo apt-get install -y python3-venv); " +
	"or set AWS_ENDPOINT_URL to an AWS emulator running elsewhere"

// startupTimeout bounds how long Start waits for moto_server to answer. It
// is generous because the wait ends as soon as moto answers (or exits):
// moto_server starts in about a second on an idle machine but can take
// well over ten while other builds and tests share the cores.
const startupTimeout = 2 * time.Minute

// Server is a moto_server child process on a free loopback port.
type Server struct {
	cmd      *exec.Cmd
	endpoint string
	output   *limitedBuffer
	exited   chan struct{} // closed when the process has been reaped
	waitErr  error         // set before exited is closed
	proxy    *serializingProxy
	stopOnce sync.Once
	stopErr  error
}

// Start launches moto_server on a free 127.0.0.1 port and returns once it
// answers HTTP requests. It fails with an install hint when moto_server is not
// on PATH, and it kills the process when startup fails.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto: moto_server not found on PATH (%s): %w", InstallHint, err)
	}
	// Another process may grab the port between our probe and moto's bind;
	// a second or third port nearly always works.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launch(ctx, bin, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func launch(ctx context.Context, bin string, port int) (*Server, error) {
	s := &Server{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		output:   &limitedBuffer{max: 8 << 10},
		exited:   make(chan struct{}),
	}
	// Not exec.CommandContext: the server must outlive ctx, which only bounds startup.
	s.cmd = command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	s.cmd.Stdout = s.output
	s.cmd.Stderr = s.output
	setProcessGroup(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("moto: start moto_server: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	proxy, err := startSerializingProxy(s.endpoint)
	if err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("moto: start proxy: %w", err)
	}
	s.proxy = proxy
	return s, nil
}

// waitReady polls the server until any HTTP answer arrives.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+"/moto-api/", nil)
		if err != nil {
			return fmt.Errorf("moto: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("moto: moto_server exited during startup (%v): %s", s.waitErr, s.output.String())
		case <-ctx.Done():
			return fmt.Errorf("moto: moto_server did not answer at %s within %v: %w; output: %s",
				s.endpoint, startupTimeout, ctx.Err(), s.output.String())
		case <-tick.C:
		}
	}
}

// Endpoint is the base URL to give the SDK, e.g. "http://127.0.0.1:41234",
// suitable for AWS_ENDPOINT_URL: the proxy that applies DynamoDB calls one
// at a time (see serializingProxy).
func (s *Server) Endpoint() string { return s.proxy.endpoint() }

// Reset clears every emulated resource (tables, queues, sent mail).
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/moto-api/reset", nil)
	if err != nil {
		return fmt.Errorf("moto: reset: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("moto: reset: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto: reset: status %s", resp.Status)
	}
	return nil
}

// Stop terminates the server's whole process group (moto_server may be a
// wrapper script around Python) and waits for it to exit. It is safe to call
// more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.proxy != nil {
			s.proxy.close()
		}
		select {
		case <-s.exited:
			return
		default:
		}
		if err := terminate(s.cmd); err != nil && !errors.Is(err, errAlreadyGone) {
			s.stopErr = fmt.Errorf("moto: stop: %w", err)
		}
		select {
		case <-s.exited:
			return
		case <-time.After(5 * time.Second):
		}
		if err := kill(s.cmd); err != nil && !errors.Is(err, errAlreadyGone) {
			s.stopErr = fmt.Errorf("moto: kill: %w", err)
		}
		<-s.exited
	})
	return s.stopErr
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("moto: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// limitedBuffer keeps the first max bytes of the server's output for error
// messages; it is written by the process's output copier and read by Start.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
