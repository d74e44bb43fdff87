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

// Interrupt is the cause of a context cancelled by StopOnSignal: it wraps
// ErrInterrupted and names the signal, so the CLI can exit with 128+signal
// (130 after SIGINT, 143 after SIGTERM) once the checkpoint is saved.
type Interrupt struct {
	Signal os.Signal
}

func (e *Interrupt) Error() string {
	return fmt.Sprintf("%v by %v: stopping after this step (send it again to exit at once)", ErrInterrupted, e.Signal)
}

func (e *Interrupt) Unwrap() error { return ErrInterrupted }

// ExitCode is the shell's code for a process ended by the signal: 128 + its number.
func (e *Interrupt) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// InterruptedAt is the error a stage's loop returns after saving the
// checkpoint of step (what is "step" or "iteration") when ctx was cancelled by
// a signal: stageErr (the stage's sentinel) and the signal's Interrupt are
// both in its chain.
func InterruptedAt(ctx context.Context, stageErr error, what string, step int) error {
	var in *Interrupt
	if !errors.As(context.Cause(ctx), &in) {
		return fmt.Errorf("%w (%s %d)", stageErr, what, step)
	}
	return &stopped{stage: stageErr, in: in, what: what, step: step}
}

type stopped struct {
	stage error
	in    *Interrupt
	what  string
	step  int
}

func (e *stopped) Error() string {
	return fmt.Sprintf("%v (stopped by %v; the checkpoint of %s %d is saved)", e.stage, e.in.Signal, e.what, e.step)
}

func (e *stopped) Unwrap() []error { return []error{e.stage, e.in} }

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
			cancel(&Interrupt{Signal: sig})
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
