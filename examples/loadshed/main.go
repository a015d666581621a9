// Command loadshed shows an HTTP server that sheds load under memory
// pressure: a middleware (Shedder.Middleware) answers 503 Service
// Unavailable, with a Retry-After header, while the watchdog reports the
// critical pressure level, and serves as usual otherwise. The level comes
// from the watchdog's events (watchdog.Subscribe), kept in an atomic so that
// a request pays one atomic load for it.
//
// The server holds blobs in memory, which is what pressure builds from:
//
//	PUT    /blobs/{key}  store the request body (shed at critical pressure)
//	GET    /work         some work with scratch memory (shed at critical pressure)
//	DELETE /blobs/{key}  drop a blob (never shed: it frees memory)
//	DELETE /blobs        drop every blob (never shed)
//	GET    /healthz      "ok pressure=<level>" (never shed: the process is alive)
//
// Run it in a memory-capped container or cgroup, where watchdog.Start
// watches the cgroup's limit, or give it a heap limit anywhere else:
//
//	go run ./examples/loadshed -heap-limit 128MiB -addr localhost:8080
//
// Then store blobs (curl -T file localhost:8080/blobs/1, ...), with some
// /work between them, until /work answers 503; DELETE /blobs, and /work is
// served again. Its test does just that in a 128 MiB cgroup.
//
// It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadshed:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("loadshed", flag.ContinueOnError)
	addr := fs.String("addr", "localhost:8080", "address to listen on (port 0: any free port)")
	heapLimit := fs.String("heap-limit", "", "watch a heap limit such as 128MiB instead of the cgroup's or the system's memory")
	retryAfter := fs.Duration("retry-after", 5*time.Second, "how long refused clients are told to wait")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var opts watchdog.Options
	if *heapLimit != "" {
		var err error
		if opts.HeapLimit, err = watchdog.ParseSize(*heapLimit); err != nil {
			return fmt.Errorf("-heap-limit: %w", err)
		}
	}

	shedder := NewShedder(*retryAfter)
	events, cancel := watchdog.Subscribe(0)
	defer cancel()
	go shedder.Follow(events)
	res, stop, err := watchdog.Start(opts)
	if err != nil {
		return err
	}
	defer stop()
	if res.Driver == "" {
		return fmt.Errorf("%v", res)
	}
	fmt.Println(res)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: newHandler(shedder), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	ctx, done := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer done()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Println("stopped")
	return nil
}

// newHandler routes the server's endpoints, with shedder in front of those
// that take memory.
func newHandler(shedder *Shedder) http.Handler {
	store := &blobStore{blobs: make(map[string][]byte)}
	put := shedder.Middleware(http.HandlerFunc(store.put))
	mux := http.NewServeMux()
	mux.Handle("/work", byMethod{http.MethodGet: shedder.Middleware(http.HandlerFunc(work))})
	mux.Handle("/blobs", byMethod{http.MethodDelete: http.HandlerFunc(store.deleteAll)})
	mux.Handle("/blobs/", byMethod{http.MethodPut: put, http.MethodDelete: http.HandlerFunc(store.delete)})
	mux.Handle("/healthz", byMethod{http.MethodGet: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok pressure=%v\n", shedder.Level())
	})})
	return mux
}

// byMethod routes a path's requests by method (the module supports Go
// 1.21, whose ServeMux has no method patterns).
type byMethod map[string]http.Handler

func (m byMethod) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := m[r.Method]
	if !ok {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.ServeHTTP(w, r)
}

// blobKey is the {key} of /blobs/{key}.
func blobKey(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/blobs/") }

// maxBlob bounds a blob's size.
const maxBlob = 64 << 20

// blobStore keeps blobs in memory.
type blobStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (s *blobStore) put(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength < 0 || r.ContentLength > maxBlob {
		http.Error(w, fmt.Sprintf("a blob needs a Content-Length of at most %d bytes", maxBlob), http.StatusRequestEntityTooLarge)
		return
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.blobs[blobKey(r)] = b
	n := len(s.blobs)
	s.mu.Unlock()
	fmt.Fprintf(w, "stored; %d blobs\n", n)
}

func (s *blobStore) delete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delete(s.blobs, blobKey(r))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *blobStore) deleteAll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.blobs = make(map[string][]byte)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// work stands for a request that needs scratch memory: 1 MiB, garbage
// once it returns.
func work(w http.ResponseWriter, r *http.Request) {
	scratch := make([]byte, 1<<20)
	sum := 0
	for i := 0; i < len(scratch); i += 4096 {
		scratch[i] = byte(i >> 12)
		sum += int(scratch[i])
	}
	fmt.Fprintf(w, "done: %d\n", sum)
}
