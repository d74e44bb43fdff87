package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/posttrain/posttrain/train"
)

// Exit codes. A signal that stopped a run (after its checkpoint was saved)
// exits with the shell's 128+signal: 130 for SIGINT, 143 for SIGTERM.
const (
	exitOK       = 0
	exitFailure  = 1
	exitInternal = 70 // EX_SOFTWARE: a bug in posttrain (a panic)
)

// errPanic marks an error made from a recovered panic.
var errPanic = errors.New("internal error")

// execute runs the command tree; a panic on this goroutine becomes an error
// with a bug-report hint instead of a stack dump (set POSTTRAIN_TRACEBACK=1
// to print the stack as well).
func execute() (err error) {
	defer func() {
		if p := recover(); p != nil {
			if os.Getenv("POSTTRAIN_TRACEBACK") != "" {
				os.Stderr.Write(debug.Stack())
			}
			err = fmt.Errorf("%w: %v\nthis is a bug in posttrain: please report it with the command line and this message "+
				"(POSTTRAIN_TRACEBACK=1 prints the stack)", errPanic, p)
		}
	}()
	return rootCmd.Execute()
}

// exitCode prints err on w and returns the process's exit code.
func exitCode(err error, w io.Writer) int {
	if err == nil {
		return exitOK
	}
	var in *train.Interrupt
	if errors.As(err, &in) {
		fmt.Fprintln(w, err)
		return in.ExitCode()
	}
	fmt.Fprintln(w, "Error:", err)
	if errors.Is(err, errPanic) {
		return exitInternal
	}
	return exitFailure
}
