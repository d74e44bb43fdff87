package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// ErrInterrupted is the cause of a context cancelled by StopOnSignal.
var ErrInterrupted = errors.New("train: interrupted")

// StopOnSignal returns a context that is cancelled on the first SIGINT or SIGTERM, with a
// cause wrapping ErrInterrupted. The training loop checks ctx.Err() after each step, saves a
// checkpoint and returns. The first signal also unregisters the handler, so a second one
// gets the default action and ends the process at once. stop releases the handler.
func StopOnSignal(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(fmt.Errorf("%w by %v: stopping after this step (send it again to exit at once)", ErrInterrupted, sig))
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel(context.Canceled)
		})
	}
}

// Interrupted reports whether ctx was cancelled by a signal (not by its parent or stop).
func Interrupted(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrInterrupted)
}
