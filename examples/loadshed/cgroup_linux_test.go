package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raulk/go-watchdog/internal/cgtest"
)

// TestShedLoadInRealCgroup runs the server in a fresh cgroup v1 memory group
// capped at 128 MiB, created under this test's own group (the test process
// never joins it), and drives its memory up over HTTP: it stores 1 MiB
// blobs, with requests for /work between them for garbage and GCs, until the
// server refuses work. It checks the refusals (503 with Retry-After while
// the level is critical), frees the blobs, and waits for the server to
// serve again.
func TestShedLoadInRealCgroup(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory is charged to the cgroup and grows with the heap, so no 128 MiB run is meaningful; run go test without -race for this test")
	}
	const limit = 128 << 20
	g := cgtest.ForTest(t, "loadshed", limit)

	cmd := g.Command(os.Args[0], "-addr", "127.0.0.1:0", "-retry-after", "2s")
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A failure bound for the whole test: the server is killed, by its pid.
	killer := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill() })
	defer killer.Stop()
	exited := false
	t.Cleanup(func() {
		if !exited { // g.Remove kills it too; this reaps it
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	// The server prints its address once it listens. The reader keeps
	// every line for the log; it does not use t, which must not be used
	// once the test has returned.
	var out syncBuffer
	listening := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				listening <- addr
			}
		}
	}()
	var base string
	select {
	case base = <-listening:
	case <-readDone:
		t.Fatalf("the server exited before listening\n%s%s", out.String(), stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("the server did not listen within a minute\n%s%s", out.String(), stderr.String())
	}
	t.Logf("the server listens on %s", base)

	client := &http.Client{Timeout: 30 * time.Second}
	// do sends a request and returns its status, Retry-After and body.
	do := func(method, path string, body []byte) (code int, retry, text string, err error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		r, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			return 0, "", "", err
		}
		resp, err := client.Do(r)
		if err != nil {
			return 0, "", "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b), err
	}
	// req is do where a transport error fails the test, with the server's
	// log.
	req := func(method, path string, body []byte) (int, string, string) {
		t.Helper()
		code, retry, text, err := do(method, path, body)
		if err != nil {
			kills, _ := g.OOMKills()
			t.Fatalf("%s %s: %v (OOM kills in the group: %d)\nserver log:\n%s", method, path, err, kills, stderr.String())
		}
		return code, retry, text
	}
	level := func() string {
		_, _, body := req("GET", "/healthz", nil)
		return strings.TrimSpace(strings.TrimPrefix(body, "ok pressure="))
	}

	if code, retry, _ := req("GET", "/work", nil); code != http.StatusOK || retry != "" {
		t.Fatalf("before any pressure: GET /work = %d (Retry-After %q), want 200", code, retry)
	}

	// Drive the live heap up, 1 MiB a blob, until the server refuses a
	// request.
	checkRefusal := func(what string, blobs int, retry, body string) {
		t.Helper()
		if retry != "2" {
			t.Errorf("a refusal must carry Retry-After: 2 (from -retry-after 2s), got %q", retry)
		}
		if secs, err := strconv.Atoi(retry); err != nil || secs < 1 {
			t.Errorf("Retry-After %q is not a whole number of seconds", retry)
		}
		t.Logf("after %d blobs: %s = 503, Retry-After %s, %q", blobs, what, retry, strings.TrimSpace(body))
	}
	blob := make([]byte, 1<<20)
	levels := []string{level()}
	blobs := 0
	for refused := false; !refused; {
		if blobs == 2*limit>>20 {
			t.Fatalf("%d MiB stored in a %d MiB group and the server still serves; levels seen %v\nserver log:\n%s",
				blobs, limit>>20, levels, stderr.String())
		}
		code, retry, body, err := do("PUT", fmt.Sprintf("/blobs/%d", blobs), blob)
		switch {
		case err != nil:
			// A server that refuses an upload without reading its body
			// may close the connection while the client still writes
			// it. /work tells whether that was a refusal.
			t.Logf("PUT blob %d: %v; asking /work", blobs, err)
		case code == http.StatusServiceUnavailable:
			checkRefusal("PUT /blobs/"+strconv.Itoa(blobs), blobs, retry, body)
		case code != http.StatusOK:
			t.Fatalf("PUT blob %d = %d %s", blobs, code, body)
		default:
			blobs++
		}
		// Garbage, so that GCs keep the watchdog's live heap figure fresh.
		for i := 0; i < 4 && !refused; i++ {
			code, retry, body := req("GET", "/work", nil)
			switch code {
			case http.StatusOK:
			case http.StatusServiceUnavailable:
				checkRefusal("GET /work", blobs, retry, body)
				refused = true
			default:
				t.Fatalf("GET /work = %d %s", code, body)
			}
		}
		if err != nil && !refused {
			t.Fatalf("PUT failed while /work is still served: %v\nserver log:\n%s", err, stderr.String())
		}
		if l := level(); l != levels[len(levels)-1] {
			levels = append(levels, l)
			t.Logf("after %d blobs: pressure %s", blobs, l)
		}
	}
	if l := level(); l != "critical" {
		t.Errorf("the server refused work at pressure %q (health check), want critical", l)
	}
	if code, _, _ := req("PUT", "/blobs/more", []byte("x")); code != http.StatusServiceUnavailable {
		t.Errorf("PUT at critical pressure = %d, want 503", code)
	}

	// Free the memory: DELETE is never shed.
	if code, _, body := req("DELETE", "/blobs", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE /blobs = %d %s", code, body)
	}
	// Wait for the level to fall, bounded. It falls after the next GC,
	// which the Shedder runs every Retry-After period while critical: the
	// polling here is too light to cause one soon.
	freed := time.Now()
	deadline := freed.Add(time.Minute)
	for {
		code, retry, _ := req("GET", "/work", nil)
		if code == http.StatusOK {
			if retry != "" {
				t.Errorf("a served request carries Retry-After %q", retry)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused a minute after the blobs were freed: %d; level %s\nserver log:\n%s", code, level(), stderr.String())
		}
		time.Sleep(100 * time.Millisecond) // polling pace; the condition is the 200
	}
	t.Logf("%v after DELETE /blobs: GET /work = 200, pressure %s", time.Since(freed).Round(time.Millisecond), level())

	// Stop the server, by its pid: it exits 0 and was never OOM-killed.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-readDone // its stdout is closed: it has exited (or the killer struck)
	werr := cmd.Wait()
	exited = true
	t.Logf("server stdout:\n%s", out.String())
	kills, err := g.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	peak, _ := g.MaxUsage()
	t.Logf("group peak usage %.1f MiB of %d MiB; OOM kills %d; levels seen while storing: %v", float64(peak)/(1<<20), limit>>20, kills, levels)
	if werr != nil || kills != 0 {
		t.Fatalf("the server must survive and stop cleanly: exit %v, %d OOM kills\n%s", werr, kills, stderr.String())
	}
	t.Logf("server log:\n%s", stderr.String())
}

// syncBuffer is a bytes.Buffer safe for the writes of exec's copying
// goroutine and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
