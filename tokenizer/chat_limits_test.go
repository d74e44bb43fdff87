package tokenizer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostileChatTemplateFailsNamingItsFile(t *testing.T) {
	for name, src := range map[string]string{
		"recursion": `{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`,
		"doubling":  `{% set ns = namespace(s='x') %}{% for i in range(80) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}`,
		"repeat":    `{{ 'x' * 100000000000 }}`,
		"range":     `{% for i in range(10**15) %}{% endfor %}`,
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := Load(writeTinyTokenizer(t, tinyTokenizerJSON(t, nil), map[string]any{"chat_template": src}))
			require.NoError(t, err)
			_, err = tok.ApplyChatTemplate([]Message{{Role: "user", Content: "hi"}}, true)
			require.ErrorIs(t, err, ErrTemplateLimit)
			assert.Contains(t, err.Error(), "tokenizer_config.json chat_template")
		})
	}
}
