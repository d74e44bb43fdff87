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

func TestAbsurdVocabIDIsAnErrorNotAnAllocation(t *testing.T) {
	for name, edit := range map[string]func(map[string]any){
		"vocab": func(doc map[string]any) {
			doc["model"].(map[string]any)["vocab"].(map[string]int)["big"] = 1_000_000_000
		},
		"added": func(doc map[string]any) {
			doc["added_tokens"] = append(doc["added_tokens"].([]any), map[string]any{"id": 2147483647, "content": "<x>",
				"special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false})
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeTinyTokenizer(t, tinyTokenizerJSON(t, edit), map[string]any{}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "tokenizer.json")
			assert.Contains(t, err.Error(), "beyond the largest id accepted")
		})
	}
}
