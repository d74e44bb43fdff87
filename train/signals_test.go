package train

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStopOnSignalTwice runs a helper process: the first SIGINT cancels its context with
// ErrInterrupted (the loop would save and exit), the second kills it at once.
func TestStopOnSignalTwice(t *testing.T) {
	if os.Getenv("TRAIN_HELPER") == "signals" {
		ctx, stop := StopOnSignal(context.Background())
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("stopping:", Interrupted(ctx), context.Cause(ctx))
		time.Sleep(time.Minute) // a slow final checkpoint; the second signal ends it
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopOnSignalTwice$")
	cmd.Env = append(os.Environ(), "TRAIN_HELPER=signals")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan())
	require.Equal(t, "ready", lines.Text())

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.True(t, lines.Scan())
	assert.True(t, strings.HasPrefix(lines.Text(), "stopping: true train: interrupted by interrupt"), lines.Text())

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%v", err)
		status := exit.Sys().(syscall.WaitStatus)
		assert.True(t, status.Signaled())
		assert.Equal(t, syscall.SIGINT, status.Signal())
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the second SIGINT did not end the process")
	}
}

func TestStopOnSignalStopAndParent(t *testing.T) {
	ctx, stop := StopOnSignal(context.Background())
	stop()
	stop() // idempotent
	require.Error(t, ctx.Err())
	assert.False(t, Interrupted(ctx))

	parent, cancel := context.WithCancel(context.Background())
	ctx, stop = StopOnSignal(parent)
	defer stop()
	cancel()
	<-ctx.Done()
	assert.False(t, Interrupted(ctx))
}
