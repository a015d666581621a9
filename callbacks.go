package watchdog

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// callbackBudget is how long the loop waits for one piece of the program's
// code (a policy evaluation, the pre-GC notifees and ForcedGCFunc) before it
// carries on without it. Real time: a mock Clock must not stretch it.
var callbackBudget = time.Second

// executor runs the program's code for one run, off the loop goroutine, so a
// callback that panics, blocks or stops the watchdog cannot take the loop
// with it. Three workers keep the kinds of callback apart, so one that
// blocks holds up only its own kind:
//
//   - calls: policies, policy constructors, the pre-GC notifees and
//     ForcedGCFunc; the loop waits for each at most callbackBudget;
//   - notes: the post-GC notifications, which the loop does not wait for;
//   - logs: the Logger, which the loop does not wait for either.
//
// Panics are recovered and reported; the loop goes on watching.
type executor struct {
	calls, notes, logs *worker

	// pending is the done channel of a call that outlived its budget; no
	// other call is made until it closes. Owned by the loop goroutine.
	pending chan struct{}

	notifyQueued atomic.Bool // a post-GC notification waits to run
	onPanic      func(what string, p any)
	onDrop       func()
}

func newExecutor(onPanic func(string, any), onDrop func()) *executor {
	return &executor{
		calls:   newWorker(16),
		notes:   newWorker(4),
		logs:    newWorker(256),
		onPanic: onPanic,
		onDrop:  onDrop,
	}
}

// newInlineExecutor runs every task at once on the caller: for tests of
// code that logs, outside a loop.
func newInlineExecutor(onPanic func(string, any)) *executor {
	return &executor{onPanic: onPanic, onDrop: func() {}}
}

// safely runs fn, recovering a panic and reporting it. It returns the
// panic's value, nil when fn returned.
func (e *executor) safely(what string, fn func()) (recovered any) {
	defer func() {
		if p := recover(); p != nil {
			recovered = p
			e.onPanic(what, p)
		}
	}()
	fn()
	return nil
}

// errBusy is call's error while an earlier call still runs.
var errBusy = errors.New("an earlier callback has not returned yet")

// callErr describes a call that did not complete.
func callErr(what string, p any) error {
	if p == nil {
		return nil
	}
	return fmt.Errorf("%s panicked: %v", what, p)
}

// call runs fn on the calls worker and waits for it, at most callbackBudget,
// and not past closing. It returns nil when fn returned, and otherwise says
// why not: a panic, the budget, the stop, or (at once) an earlier call still
// running past its budget.
func (e *executor) call(what string, fn func(), closing <-chan struct{}) error {
	if e.calls == nil {
		return callErr(what, e.safely(what, fn))
	}
	if e.busy() {
		return errBusy
	}
	var p any
	t := &task{done: make(chan struct{})}
	t.fn = func() { p = e.safely(what, fn) } // p is read only after done
	select {
	case e.calls.tasks <- t:
	default:
		return errBusy
	}
	budget := time.NewTimer(callbackBudget)
	defer budget.Stop()
	select {
	case <-t.done:
		return callErr(what, p)
	case <-closing:
		return errStopped
	case <-budget.C:
		e.pending = t.done
		return fmt.Errorf("%s did not return within %v", what, callbackBudget)
	}
}

// busy reports whether a call outlived its budget and is still running.
func (e *executor) busy() bool {
	if e.pending == nil {
		return false
	}
	select {
	case <-e.pending:
		e.pending = nil
		return false
	default:
		return true
	}
}

// log queues a log line without waiting; a full queue (a Logger that fell
// behind) drops it.
func (e *executor) log(fn func()) {
	if e.logs == nil {
		e.safely("Logger", fn)
		return
	}
	if !e.logs.post(&task{fn: func() { e.safely("Logger", fn) }, keep: true}) {
		e.onDrop()
	}
}

// postNotify queues the post-GC notification fn unless one already waits:
// cycles that end before the notifees run share one call.
func (e *executor) postNotify(fn func()) {
	if e.notes == nil {
		fn()
		return
	}
	if !e.notifyQueued.CompareAndSwap(false, true) {
		return
	}
	if !e.notes.post(&task{fn: func() { e.notifyQueued.Store(false); fn() }}) {
		e.notifyQueued.Store(false)
	}
}

// shutdown stops the workers, the logs after flushing the lines queued,
// and waits for them, at most callbackBudget in all: a callback may be
// blocked, or may be the very one that called stop.
func (e *executor) shutdown() {
	if e.calls == nil {
		return
	}
	deadline := time.NewTimer(callbackBudget)
	defer deadline.Stop()
	for _, w := range []*worker{e.calls, e.notes, e.logs} {
		close(w.quit)
	}
	for _, w := range []*worker{e.calls, e.notes, e.logs} {
		select {
		case <-w.done:
		case <-deadline.C:
			return
		}
	}
}

// onExecutor reports whether the calling goroutine is one of the workers:
// the caller is a callback of this run.
func (e *executor) onExecutor() bool {
	if e.calls == nil {
		return false
	}
	id := goroutineID()
	return id == e.calls.gid.Load() || id == e.notes.gid.Load() || id == e.logs.gid.Load()
}

// flushLogs waits until the log lines queued so far have reached the
// Logger, at most callbackBudget: a Logger may block.
func (e *executor) flushLogs() {
	if e.logs == nil {
		return
	}
	t := &task{fn: func() {}, done: make(chan struct{}), keep: true}
	stuck := time.NewTimer(callbackBudget)
	defer stuck.Stop()
	select {
	case e.logs.tasks <- t:
		select {
		case <-t.done:
		case <-stuck.C:
		}
	case <-stuck.C:
	}
}

// flush waits until the tasks queued before it have run, on the workers
// that are not stuck in a callback (it gives each callbackBudget). For tests.
func (e *executor) flush() {
	if e.calls == nil {
		return
	}
	for _, w := range []*worker{e.calls, e.notes, e.logs} {
		t := &task{fn: func() {}, done: make(chan struct{})}
		stuck := time.NewTimer(callbackBudget)
		select {
		case w.tasks <- t:
			select {
			case <-t.done:
			case <-stuck.C:
			}
		case <-w.done:
		case <-stuck.C:
		}
		stuck.Stop()
	}
}

// worker is one goroutine that runs tasks in order.
type worker struct {
	tasks chan *task
	quit  chan struct{} // closed by shutdown
	done  chan struct{} // closed when the goroutine has exited
	gid   atomic.Uint64 // the goroutine's id
}

// task is one unit of a worker's work.
type task struct {
	fn   func()
	done chan struct{} // closed after fn; nil for posted tasks
	keep bool          // still run when draining after shutdown (log lines)
}

func newWorker(queue int) *worker {
	w := &worker{tasks: make(chan *task, queue), quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *worker) run() {
	defer close(w.done)
	w.gid.Store(goroutineID())
	for {
		select {
		case t := <-w.tasks:
			w.exec(t)
		case <-w.quit:
			for { // the run is over: flush what must be, drop the rest
				select {
				case t := <-w.tasks:
					if t.keep {
						w.exec(t)
					} else if t.done != nil {
						close(t.done) // a waiter sees it did not run
					}
				default:
					return
				}
			}
		}
	}
}

func (w *worker) exec(t *task) {
	t.fn() // the executor wraps fn in safely
	if t.done != nil {
		close(t.done)
	}
}

// post queues t without waiting; it reports false when the queue is full.
func (w *worker) post(t *task) bool {
	select {
	case w.tasks <- t:
		return true
	default:
		return false
	}
}

// goroutineID returns the id of the calling goroutine, from the first line of
// its stack trace ("goroutine 42 [running]:"). It is used only to tell
// whether stop was called from a callback, never on a hot path.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

// stderrf is the last resort when the Logger itself panics.
func stderrf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[watchdog] "+format+"\n", args...)
}
