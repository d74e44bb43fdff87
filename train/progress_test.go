package train

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProgressPlainLines(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, 100, 0, "sft") // a buffer is not a terminal
	p.Step(1)
	assert.Empty(t, out.String(), "plain mode prints only on Log")
	p.Log(10, map[string]float64{"eval_loss": 2.5, MetricLR: 1e-4, MetricLoss: 2.34567, MetricGradNorm: 0.5, MetricTokensPerS: 1234.4})
	p.Finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^step 10/100 loss=2.3457 lr=1.000e-04 grad_norm=0.5000 tokens_per_s=1234 eval_loss=2.5000 eta=\S+$`, lines[0])
	assert.Regexp(t, `^done in \S+$`, lines[1])
}

func TestProgressBarMode(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, 10, 2, "dpo", true)
	for step := 3; step <= 10; step++ {
		p.Step(step)
	}
	p.Log(10, map[string]float64{MetricLoss: 1})
	p.Finish()
	s := out.String()
	assert.Contains(t, s, "dpo")
	assert.Contains(t, s, "10/10")
	assert.Contains(t, s, "step 10/10 loss=1.0000")
	assert.NotContains(t, s, "eta=", "no ETA once the run is complete")
}
