package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenizeCommand(t *testing.T) {
	dir := fixtures.Path(t, "tokenizer", "llama3")
	vectorsPath := fixtures.Path(t, "tokenizer", "vectors.jsonl")
	type vector struct {
		Text       string  `json:"text"`
		IDsText    []int32 `json:"ids_text"`
		IDsSpecial []int32 `json:"ids_special"`
	}
	var vectors []vector
	f, err := os.Open(vectorsPath)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v vector
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v))
		vectors = append(vectors, v)
	}

	t.Run("jsonl with --special", func(t *testing.T) {
		out, err := run(t, "tokenize", "--tokenizer", dir, "--special", "--jsonl", vectorsPath)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		require.Len(t, lines, len(vectors))
		for i, line := range lines {
			var ids []int32
			require.NoError(t, json.Unmarshal([]byte(line), &ids))
			assert.Equal(t, vectors[i].IDsSpecial, ids, "line %d", i+1)
		}
	})

	t.Run("text without --special", func(t *testing.T) {
		out, err := run(t, "tokenize", "--tokenizer", dir, "--bos", "--text", "Hello<|eot_id|>")
		require.NoError(t, err)
		var ids []int32
		require.NoError(t, json.Unmarshal([]byte(out), &ids))
		assert.Equal(t, int32(128000), ids[0])
		assert.NotContains(t, ids, int32(128009), "literals are text without --special")
	})

	t.Run("decode", func(t *testing.T) {
		input := filepath.Join(t.TempDir(), "ids.jsonl")
		var sb strings.Builder
		for _, v := range vectors {
			line, _ := json.Marshal(v.IDsText)
			sb.Write(line)
			sb.WriteByte('\n')
		}
		require.NoError(t, os.WriteFile(input, []byte(sb.String()), 0o644))
		out, err := run(t, "tokenize", "--tokenizer", dir, "--decode", "--jsonl", input)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		require.Len(t, lines, len(vectors))
		for i, line := range lines {
			var text string
			require.NoError(t, json.Unmarshal([]byte(line), &text))
			assert.Equal(t, vectors[i].Text, text, "line %d", i+1)
		}
	})

	t.Run("needs exactly one input", func(t *testing.T) {
		_, err := run(t, "tokenize", "--tokenizer", dir)
		assert.Error(t, err)
	})
}

func TestChatTemplateCommand(t *testing.T) {
	f, err := os.Open(fixtures.Path(t, "tokenizer", "chat_template_vectors.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for i := 0; i < 4 && sc.Scan(); i++ {
		var v struct {
			Messages            json.RawMessage `json:"messages"`
			AddGenerationPrompt bool            `json:"add_generation_prompt"`
			Rendered            string          `json:"rendered"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v))
		messages := filepath.Join(t.TempDir(), "messages.json")
		require.NoError(t, os.WriteFile(messages, v.Messages, 0o644))
		args := []string{"chat-template", "--tokenizer", fixtures.Path(t, "tokenizer", "llama3"), "--messages", messages}
		if v.AddGenerationPrompt {
			args = append(args, "--add-generation-prompt")
		}
		out, err := run(t, args...)
		require.NoError(t, err)
		assert.Equal(t, v.Rendered, out)
	}
}
