package tokenizer

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestApplyChatTemplateMatchesReference(t *testing.T) {
	tok := loadLlama3(t)
	for _, v := range readJSONL[chatVector](t, "chat_template_vectors.jsonl") {
		t.Run(fmt.Sprintf("%d-%s", v.ID, v.Source), func(t *testing.T) {
			rendered, err := tok.ApplyChatTemplate(v.Messages, v.AddGenerationPrompt)
			require.NoError(t, err)
			assert.Equal(t, v.Rendered, rendered)
			assert.Equal(t, v.IDs, tok.Encode(rendered, EncodeOptions{Special: true}))
		})
	}
}

func TestApplyChatTemplateErrors(t *testing.T) {
	t.Run("raise_exception names the template", func(t *testing.T) {
		dir := writeTinyTokenizer(t, tinyTokenizerJSON(t, nil), map[string]any{
			"chat_template": "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations must start with a user turn') }}{% endif %}ok",
		})
		tok, err := Load(dir)
		require.NoError(t, err)
		out, err := tok.ApplyChatTemplate([]Message{{Role: "user", Content: "hi"}}, false)
		require.NoError(t, err)
		assert.Equal(t, "ok", out)
		_, err = tok.ApplyChatTemplate([]Message{{Role: "assistant", Content: "hi"}}, false)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Conversations must start with a user turn")
		assert.Contains(t, err.Error(), "tokenizer_config.json chat_template")
	})
	t.Run("no template", func(t *testing.T) {
		tok, err := Load(writeTinyTokenizer(t, tinyTokenizerJSON(t, nil), map[string]any{}))
		require.NoError(t, err)
		_, err = tok.ApplyChatTemplate([]Message{{Role: "user", Content: "hi"}}, true)
		assert.ErrorIs(t, err, ErrNoChatTemplate)
	})
	t.Run("syntax error is reported when used, not at Load", func(t *testing.T) {
		tok, err := Load(writeTinyTokenizer(t, tinyTokenizerJSON(t, nil), map[string]any{"chat_template": "{% for m in messages %}"}))
		require.NoError(t, err)
		_, err = tok.ApplyChatTemplate(nil, false)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "compile")
	})
	t.Run("named default template and special tokens", func(t *testing.T) {
		tok, err := Load(writeTinyTokenizer(t, tinyTokenizerJSON(t, nil), map[string]any{
			"bos_token": "<s>",
			"eos_token": map[string]any{"content": "</s>", "special": true},
			"chat_template": []map[string]string{
				{"name": "tool_use", "template": "tools"},
				{"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"},
			},
		}))
		require.NoError(t, err)
		out, err := tok.ApplyChatTemplate([]Message{{Role: "user", Content: "hi"}}, true)
		require.NoError(t, err)
		assert.Equal(t, "<s>user:hi</s>assistant:", out)
	})
}
