package datasets

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chatVector is one line of the tokenizer fixtures' chat_template_vectors.jsonl: a
// conversation rendered by Hugging Face's (or an agreeing) Jinja and tokenized by HF tokenizers.
type chatVector struct {
	ID                  int       `json:"id"`
	Messages            []Message `json:"messages"`
	AddGenerationPrompt bool      `json:"add_generation_prompt"`
	IDs                 []int32   `json:"ids"`
}

func loadLlama3(t *testing.T) (*tokenizer.Tokenizer, map[int]chatVector) {
	t.Helper()
	tok, err := tokenizer.Load(fixtures.Path(t, "tokenizer", "llama3"))
	require.NoError(t, err)
	f, err := os.Open(fixtures.Path(t, "tokenizer", "chat_template_vectors.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	vectors := map[int]chatVector{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v chatVector
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v))
		vectors[v.ID] = v
	}
	require.NoError(t, sc.Err())
	return tok, vectors
}

// labelledRuns decodes each run of loss-carrying tokens.
func labelledRuns(tok *tokenizer.Tokenizer, ex Example) []string {
	var runs []string
	var run []int32
	for _, l := range append(ex.Labels, IgnoreIndex) {
		if l != IgnoreIndex {
			run = append(run, l)
		} else if len(run) > 0 {
			runs, run = append(runs, tok.Decode(run)), nil
		}
	}
	return runs
}

func TestLlama3AssistantMasks(t *testing.T) {
	tok, vectors := loadLlama3(t)
	tested := 0
	for _, v := range vectors {
		hasAssistant := false
		for _, m := range v.Messages {
			hasAssistant = hasAssistant || m.Role == "assistant"
		}
		if v.AddGenerationPrompt || !hasAssistant {
			continue
		}
		tested++
		row := Row{Where: fmt.Sprintf("vector %d", v.ID), Format: FormatMessages, Messages: v.Messages}
		examples, _, err := EncodeSFT([]Row{row}, tok, SFTOptions{})
		require.NoError(t, err, "vector %d", v.ID)
		ex := examples[0]
		assert.Equal(t, v.IDs, ex.IDs, "vector %d: ids must match Hugging Face's", v.ID)

		var want []string
		for _, m := range v.Messages {
			if m.Role == "assistant" {
				want = append(want, strings.TrimSpace(m.Content)+"<|eot_id|>") // the template trims content
			}
		}
		assert.Equal(t, want, labelledRuns(tok, ex), "vector %d", v.ID)
	}
	assert.GreaterOrEqual(t, tested, 5, "the fixture holds several conversations with assistant turns")
}

func TestLlama3PreferenceAndPrompts(t *testing.T) {
	tok, vectors := loadLlama3(t)
	v := vectors[5] // user, assistant, user; rendered with the generation prompt
	require.True(t, v.AddGenerationPrompt)
	row := Row{Where: "prefs.jsonl:1", Format: FormatPreference, Prompt: Content{Messages: v.Messages},
		Chosen:   Content{Messages: msgs("assistant", "Why did the chicken cross the road?")},
		Rejected: Content{Messages: msgs("assistant", " No. ")}}

	examples, _, err := EncodePreference([]Row{row}, tok, PreferenceOptions{})
	require.NoError(t, err)
	ex := examples[0]
	assert.Equal(t, v.IDs, ex.Prompt, "the prompt is Hugging Face's rendering with the generation prompt")
	assert.Equal(t, "Why did the chicken cross the road?<|eot_id|>", tok.Decode(ex.Chosen))
	assert.Equal(t, "No.<|eot_id|>", tok.Decode(ex.Rejected))
	eot, ok := tok.TokenID("<|eot_id|>")
	require.True(t, ok)
	assert.Equal(t, eot, ex.Chosen[len(ex.Chosen)-1])
	assert.NotEqual(t, eot, ex.Chosen[len(ex.Chosen)-2], "the end of turn is not doubled")

	prompts, _, err := EncodePrompts([]Row{row}, tok, PromptOptions{})
	require.NoError(t, err)
	assert.Equal(t, v.IDs, prompts[0])
}

func TestLlama3PlainText(t *testing.T) {
	tok, _ := loadLlama3(t)
	rows := []Row{
		{Where: "t.jsonl:1", Format: FormatText, Text: "Hello world"},
		{Where: "t.jsonl:2", Format: FormatPromptCompletion, Prompt: Content{Text: "The capital of France is"}, Completion: Content{Text: " Paris."}},
	}
	examples, _, err := EncodeSFT(rows, tok, SFTOptions{})
	require.NoError(t, err)
	body := tok.Encode("Hello world", tokenizer.EncodeOptions{})
	text := examples[0]
	assert.Equal(t, tok.BOS(), text.IDs[0])
	assert.Equal(t, body, text.IDs[1:len(text.IDs)-1])
	assert.Equal(t, tok.EOS()[0], text.IDs[len(text.IDs)-1])
	assert.Equal(t, []string{"Hello world<|eot_id|>"}, labelledRuns(tok, text))

	assert.Equal(t, []string{" Paris.<|eot_id|>"}, labelledRuns(tok, examples[1]))
}
