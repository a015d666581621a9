package watchdog

import (
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

// executor runs the program's code for one run: policies, notifees,
// ForcedGCFunc and the Logger. It has a goroutine of its own, so a callback
// that panics, blocks, or stops the watchdog cannot take the loop with it:
// the loop waits for a callback at most callbackBudget, recovers its panics,
// and goes on watching.
type executor struct {
	tasks chan *task
	quit  chan struct{} // closed by shutdown
	done  chan struct{} // closed when the goroutine has exited
	gid   atomic.Uint64 // the goroutine's id, so stop knows a callback called it

	// pending is the done channel of a call that outlived its budget; no
	// other call is made until it closes. Owned by the loop goroutine.
	pending chan struct{}

	notifyQueued atomic.Bool // a post-GC notification waits in tasks
	inline       bool        // tests: run every task at once on the caller
	onPanic      func(what string, p any)
	onDrop       func()
}

// task is one unit of the executor's work.
type task struct {
	fn       func()
	done     chan struct{} // closed after fn; nil for posted tasks
	logLine  bool          // still run while draining after shutdown
	panicked bool          // fn panicked; read after done is closed
	what     string
}

func newExecutor(onPanic func(string, any), onDrop func()) *executor {
	e := &executor{
		tasks:   make(chan *task, 256),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		onPanic: onPanic,
		onDrop:  onDrop,
	}
	go e.run()
	return e
}

func (e *executor) run() {
	defer close(e.done)
	e.gid.Store(goroutineID())
	for {
		select {
		case t := <-e.tasks:
			e.exec(t)
		case <-e.quit:
			// Flush the log lines; the run is over, so no more callbacks.
			for {
				select {
				case t := <-e.tasks:
					if t.logLine {
						e.exec(t)
					} else if t.done != nil {
						close(t.done)
					}
				default:
					return
				}
			}
		}
	}
}

func (e *executor) exec(t *task) {
	t.panicked = e.safely(t.what, t.fn)
	if t.done != nil {
		close(t.done)
	}
}

// safely runs fn, recovering a panic and reporting it.
func (e *executor) safely(what string, fn func()) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			e.onPanic(what, p)
		}
	}()
	fn()
	return false
}

// call runs fn on the executor and waits for it, at most callbackBudget,
// and not past closing. It reports whether fn returned without panicking.
// While an earlier call is still running past its budget, or when the
// queue is full (a blocked Logger), it returns false at once.
func (e *executor) call(what string, fn func(), closing <-chan struct{}) bool {
	if e.inline {
		return !e.safely(what, fn)
	}
	if e.pending != nil {
		select {
		case <-e.pending:
			e.pending = nil
		default:
			return false
		}
	}
	t := &task{fn: fn, what: what, done: make(chan struct{})}
	select {
	case e.tasks <- t:
	default:
		return false
	}
	budget := time.NewTimer(callbackBudget)
	defer budget.Stop()
	select {
	case <-t.done:
		return !t.panicked
	case <-closing:
		return false
	case <-budget.C:
		e.pending = t.done
		return false
	}
}

// flush waits until the tasks queued before it have run. For tests: it
// blocks behind a stuck callback.
func (e *executor) flush() {
	if e.inline {
		return
	}
	t := &task{fn: func() {}, what: "flush", done: make(chan struct{})}
	select {
	case e.tasks <- t:
		<-t.done
	case <-e.done:
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

// post queues fn without waiting. A full queue drops it.
func (e *executor) post(what string, fn func(), logLine bool) {
	if e.inline {
		e.safely(what, fn)
		return
	}
	select {
	case e.tasks <- &task{fn: fn, what: what, logLine: logLine}:
	default:
		e.onDrop()
	}
}

// postNotify queues fn unless a notification already waits: cycles that end
// before the notifees run are reported by one call.
func (e *executor) postNotify(fn func()) {
	if !e.notifyQueued.CompareAndSwap(false, true) {
		return
	}
	e.post("post-GC notifee", func() {
		e.notifyQueued.Store(false)
		fn()
	}, false)
}

// shutdown stops the executor after it has flushed queued log lines, and
// waits for it, at most callbackBudget: a callback may be blocked, or may be
// the very one that called stop.
func (e *executor) shutdown() {
	close(e.quit)
	t := time.NewTimer(callbackBudget)
	defer t.Stop()
	select {
	case <-e.done:
	case <-t.C:
	}
}

// onExecutor reports whether the calling goroutine is the executor's.
func (e *executor) onExecutor() bool {
	return e.gid.Load() == goroutineID()
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
