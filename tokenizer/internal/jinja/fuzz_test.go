package jinja_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posttrain/posttrain/tokenizer/internal/jinja"
)

// FuzzRender compiles and renders arbitrary templates under small limits. A
// template may fail, but never panic (render turns a panic into an "internal
// error", reported here as a bug), overflow the stack or run past its limits.
//
//	go test -run=NONE -fuzz=FuzzRender -fuzztime=10s ./tokenizer/internal/jinja
func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		`{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}`,
		`{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}`,
		`{% set ns = namespace(x='a') %}{% for i in range(5) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x | length }}`,
		`{{ 'ab' * 3 }}{{ [1, 2] + [3] }}{{ messages | tojson }}{{ (messages | first)['content'][1:3] }}`,
		`{{ raise_exception('no') }}`,
		`{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% else %}none{% endfor %}`,
		`{{ "%s" | format(1) }}{{ x is defined }}{{ 10 // 3 }}{{ 10 % 3 }}{{ -1 ** 2 }}`,
		`{%- if messages[0].role == 'system' -%}{{ messages[0].content }}{%- endif -%}`,
		`{% filter upper %}x{% endfilter %}{% call f() %}y{% endcall %}`,
	} {
		f.Add(seed)
	}
	data := map[string]any{
		"messages":              []any{map[string]any{"role": "user", "content": "hi"}, map[string]any{"role": "assistant", "content": "yo"}},
		"add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
	}
	lim := jinja.Limits{Timeout: 2 * time.Second, MaxOutput: 1 << 16, MaxAlloc: 1 << 22, MaxSteps: 100_000, MaxDepth: 16}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := jinja.Compile(src)
		if err != nil {
			return
		}
		out, err := tmpl.RenderContext(context.Background(), data, lim)
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("template %q panicked: %v", src, err)
		}
		if len(out) > lim.MaxOutput {
			t.Fatalf("template %q rendered %d bytes, over the %d limit", src, len(out), lim.MaxOutput)
		}
	})
}
