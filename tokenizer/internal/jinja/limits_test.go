package jinja_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/tokenizer/internal/jinja"
)

// Each hostile template must end in an ErrLimit error, quickly and without
// exhausting memory or the stack; the limits are set low so the test is fast.
func TestHostileTemplatesHitALimit(t *testing.T) {
	lim := jinja.Limits{Timeout: 2 * time.Second, MaxOutput: 1 << 20, MaxAlloc: 8 << 20, MaxSteps: 200_000, MaxDepth: 16}
	for _, tc := range []struct{ name, src, want string }{
		{"endless loop via huge range", `{% for i in range(10**12) %}x{% endfor %}`, "range of"},
		{"nested loops", `{% set r = range(1000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}`, "steps"},
		{"recursive macro", `{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`, "nested more than 16"},
		{"doubling string", `{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}`, "past"},
		{"string repetition", `{{ 'x' * 1000000000000 }}`, "repeated"},
		{"big output", `{% for i in range(100000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}`, "output longer"},
		{"join of a huge list", `{{ range(1000000) | join(',') }}`, "past"},
		{"exponential recursion", `{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(15) }}`, "steps"},
		{"deep parentheses", `{{ ` + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + ` }}`, "tokens"},
		{"deep blocks", strings.Repeat("{% if true %}", 300) + strings.Repeat("{% endif %}", 300), "nested more than 256"},
		{"negative indent", `{{ 'a\nb' | indent(-5) }}`, "indent width"},
		{"negative tojson indent", `{{ messages | tojson(indent=-1) }}`, "tojson indent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := jinja.Compile(tc.src)
			if err == nil {
				_, err = tmpl.RenderContext(context.Background(), map[string]any{"messages": []any{"a"}}, lim)
			}
			require.ErrorIs(t, err, jinja.ErrLimit)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNegativeStringRepetitionIsEmptyAsInPython(t *testing.T) {
	tmpl, err := jinja.Compile(`[{{ 'ab' * -3 }}]`)
	require.NoError(t, err)
	out, err := tmpl.Render(nil)
	require.NoError(t, err)
	assert.Equal(t, "[]", out)
}

func TestRenderStopsWhenTheContextIsCancelled(t *testing.T) {
	tmpl, err := jinja.Compile(`{% for i in range(1000000) %}{% endfor %}`)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = tmpl.RenderContext(ctx, nil, jinja.Limits{})
	require.ErrorIs(t, err, jinja.ErrLimit)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRenderStopsAtTheDeadline(t *testing.T) {
	// A deadline already passed: the first time check (after 1024 steps) stops it.
	tmpl, err := jinja.Compile(`{% for i in range(1000000) %}{% endfor %}`)
	require.NoError(t, err)
	_, err = tmpl.RenderContext(context.Background(), nil, jinja.Limits{Timeout: time.Nanosecond})
	require.ErrorIs(t, err, jinja.ErrLimit)
	assert.Contains(t, err.Error(), "longer than")
}

func TestOversizedSourceIsRefused(t *testing.T) {
	_, err := jinja.Compile(strings.Repeat("x", jinja.MaxSourceBytes+1))
	require.ErrorIs(t, err, jinja.ErrLimit)
}

func TestLimitsLeaveOrdinaryTemplatesAlone(t *testing.T) {
	tmpl, err := jinja.Compile(`{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}{% endfor %}`)
	require.NoError(t, err)
	msgs := make([]any, 1000)
	for i := range msgs {
		msgs[i] = map[string]any{"role": "user", "content": strings.Repeat("word ", 200)}
	}
	out, err := tmpl.Render(map[string]any{"messages": msgs})
	require.NoError(t, err)
	assert.Equal(t, 1000*(len("<user>")+len(strings.Repeat("word ", 200))-1), len(out))
}
