package train

import (
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress reports a run's progress: a progress bar when the writer is a terminal, plain log
// lines otherwise (CI logs, files, pipes).
type Progress struct {
	w     io.Writer
	total int
	bar   *progressbar.ProgressBar // nil in plain mode
	start time.Time
	first int // step the run (re)started from, for the ETA
}

// NewProgress reports on w a run of total optimizer steps that starts after startStep
// (non-zero when resuming). The mode follows whether w is a terminal.
func NewProgress(w io.Writer, total, startStep int, description string) *Progress {
	return newProgress(w, total, startStep, description, isTerminal(w))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProgress(w io.Writer, total, startStep int, description string, terminal bool) *Progress {
	p := &Progress{w: w, total: total, start: time.Now(), first: startStep}
	if terminal {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(description),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
		_ = p.bar.Set(startStep)
	}
	return p
}

// Step moves the bar to step (completed optimizer steps); plain mode prints nothing here.
func (p *Progress) Step(step int) {
	if p.bar != nil {
		_ = p.bar.Set(step)
	}
}

// Log reports metrics at step: in plain mode one line, on a terminal a line printed above the
// bar, which is then redrawn.
func (p *Progress) Log(step int, metrics map[string]float64) {
	line := p.formatLine(step, metrics)
	if p.bar == nil {
		fmt.Fprintln(p.w, line)
		return
	}
	_ = p.bar.Clear()
	fmt.Fprintln(p.w, line)
	_ = p.bar.Set(step)
}

// Finish completes the bar; plain mode prints a final line with the elapsed time.
func (p *Progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintf(p.w, "done in %s\n", time.Since(p.start).Round(time.Second))
}

// leadingMetrics come first on a line, in this order; the rest follow sorted.
var leadingMetrics = []string{MetricLoss, MetricLR, MetricGradNorm, MetricTokensPerS}

// formatLine renders "step 10/100 loss=2.3456 lr=1e-04 grad_norm=0.8123 ... eta=1m20s".
func (p *Progress) formatLine(step int, metrics map[string]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d/%d", step, p.total)
	keys := slices.Sorted(maps.Keys(metrics))
	slices.SortStableFunc(keys, func(a, c string) int {
		return leadRank(a) - leadRank(c)
	})
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, formatMetric(k, metrics[k]))
	}
	if done := step - p.first; done > 0 && step < p.total {
		perStep := time.Since(p.start) / time.Duration(done)
		fmt.Fprintf(&b, " eta=%s", (perStep * time.Duration(p.total-step)).Round(time.Second))
	}
	return b.String()
}

func leadRank(k string) int {
	if i := slices.Index(leadingMetrics, k); i >= 0 {
		return i
	}
	return len(leadingMetrics)
}

func formatMetric(name string, v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case name == MetricLR:
		return fmt.Sprintf("%.3e", v)
	case name == MetricTokensPerS:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4f", v)
}
