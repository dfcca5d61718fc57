package moto

import (
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DynamoDB applies each write, with its condition, atomically: of eight
// racing conditional puts of one item, exactly one wins. moto serves requests
// on many threads without that guarantee, so racing conditional writes can
// both succeed there. The Server therefore fronts moto with a small proxy
// that passes DynamoDB calls to moto one at a time (they take milliseconds),
// which gives tests and the local runner DynamoDB's semantics. Other services
// pass straight through: SQS long polls must not hold up anything else.
type serializingProxy struct {
	server   *http.Server
	listener net.Listener
	done     chan struct{}
}

func startSerializingProxy(target string) (*serializingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	forward := httputil.NewSingleHostReverseProxy(u)
	// A client that gives up (a poller stopping on Ctrl-C, a test ending)
	// is not an error worth a log line; anything else is answered 502.
	forward.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() == nil {
			log.Printf("moto proxy: %s %s: %v", r.Method, r.URL.Path, err)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	var dynamo sync.Mutex
	p := &serializingProxy{listener: listener, done: make(chan struct{})}
	p.server = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
				dynamo.Lock()
				defer dynamo.Unlock()
			}
			forward.ServeHTTP(w, r)
		}),
	}
	go func() {
		defer close(p.done)
		if err := p.server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	return p, nil
}

func (p *serializingProxy) endpoint() string { return "http://" + p.listener.Addr().String() }

func (p *serializingProxy) close() {
	p.server.Close()
	<-p.done
}
