package datasets

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodePreference(t *testing.T) {
	tests := []struct {
		name                                 string
		line                                 string
		wantPrompt, wantChosen, wantRejected string
		wantMargin                           float32
		wantHasMargin                        bool
	}{
		{"plain explicit prompt with margin", `{"prompt":"sky is","chosen":" blue","rejected":" red","margin":2}`,
			"<s>sky is", " blue</t>", " red</t>", 2, true},
		{"plain implicit prompt", `{"chosen":"sky is blue","rejected":"sky is red"}`,
			"<s>sky is", " blue</t>", " red</t>", 0, false},
		{"conversational explicit prompt", `{"prompt":[{"role":"user","content":"q"}],` +
			`"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}`,
			"<s>[user]q</t>[assistant]", "good</t>", "bad</t>", 0, false},
		{"conversational implicit prompt", `{"chosen":[{"role":"user","content":"q"},{"role":"assistant","content":"good"}],` +
			`"rejected":[{"role":"user","content":"q"},{"role":"assistant","content":"bad"}],"margin":-0.5}`,
			"<s>[user]q</t>[assistant]", "good</t>", "bad</t>", -0.5, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, _, err := Load(writeJSONL(t, t.TempDir(), "prefs.jsonl", tc.line), LoadOptions{})
			require.NoError(t, err)
			examples, report, err := EncodePreference(rows, fakeTokenizer{}, PreferenceOptions{})
			require.NoError(t, err)
			require.Len(t, examples, 1)
			ex := examples[0]
			assert.Equal(t, tc.wantPrompt, fakeText(ex.Prompt))
			assert.Equal(t, tc.wantChosen, fakeText(ex.Chosen))
			assert.Equal(t, tc.wantRejected, fakeText(ex.Rejected))
			assert.Equal(t, tc.wantMargin, ex.Margin)
			assert.Equal(t, tc.wantHasMargin, ex.HasMargin)
			assert.Equal(t, 1, report.Rows)
		})
	}
}

func TestPreferenceSequences(t *testing.T) {
	ex := PreferenceExample{Prompt: []int32{fakeBOS, 'q'}, Chosen: []int32{'y', fakeEOT}, Rejected: []int32{'n', 'o', fakeEOT}}
	chosen, rejected := ex.Sequences()
	assert.Equal(t, []int32{fakeBOS, 'q', 'y', fakeEOT}, chosen.IDs)
	assert.Equal(t, []int32{IgnoreIndex, IgnoreIndex, 'y', fakeEOT}, chosen.Labels)
	assert.Equal(t, []int32{IgnoreIndex, IgnoreIndex, 'n', 'o', fakeEOT}, rejected.Labels)
	assert.Equal(t, 3, rejected.LossTokens())
}

func TestEncodePreferenceDropsOverLongPairs(t *testing.T) {
	rows := []Row{
		{Where: "p.jsonl:1", Format: FormatPreference, Prompt: Content{Text: "p"}, Chosen: Content{Text: "a"}, Rejected: Content{Text: "bb"}},   // 2 + 3 = 5
		{Where: "p.jsonl:2", Format: FormatPreference, Prompt: Content{Text: "p"}, Chosen: Content{Text: "aaaa"}, Rejected: Content{Text: "b"}}, // 2 + 5 = 7
		{Where: "p.jsonl:3", Format: FormatPreference, Prompt: Content{Text: "pppp"}, Chosen: Content{Text: "a"}, Rejected: Content{Text: "b"}}, // 5 + 2 = 7
		{Where: "p.jsonl:4", Format: FormatPreference, Prompt: Content{Text: "pp"}, Chosen: Content{Text: "a"}, Rejected: Content{Text: "b"}},   // 3 + 2 = 5
	}
	examples, report, err := EncodePreference(rows, fakeTokenizer{}, PreferenceOptions{MaxLength: 5})
	require.NoError(t, err)
	require.Len(t, examples, 2)
	assert.Equal(t, "<s>p", fakeText(examples[0].Prompt))
	assert.Equal(t, "<s>pp", fakeText(examples[1].Prompt))
	assert.Equal(t, 2, report.Dropped)
	assert.Equal(t, 2, report.Rows)
	assert.Contains(t, report.String(), "2 dropped as longer than max_length")
}

func TestEncodePreferenceBadRows(t *testing.T) {
	tests := []struct {
		name    string
		row     Row
		wantErr string
	}{
		{"conversational pair without a shared prompt",
			Row{Format: FormatPreference, Prompt: Content{Messages: []Message{}}, Chosen: Content{Messages: msgs("assistant", "a")}, Rejected: Content{Messages: msgs("assistant", "b")}},
			where + `: field "chosen" shares no leading messages with "rejected"; a conversational pair needs a prompt`},
		{"role the template rejects",
			Row{Format: FormatPreference, Prompt: Content{Messages: msgs("user", "q")}, Chosen: Content{Messages: msgs("assistant", "a")}, Rejected: Content{Messages: msgs("critic", "b")}},
			where + `: field "rejected" is rejected by the chat template: role "critic" is not supported`},
		{"completion that does not continue the prompt",
			Row{Format: FormatPreference, Prompt: Content{Messages: msgs("user", "q")}, Chosen: Content{Messages: msgs("user", "a")}, Rejected: Content{Messages: msgs("assistant", "b")}},
			where + `: field "chosen" does not continue the prompt: the chat template's rendering of the prompt with a generation prompt is not a prefix of prompt+chosen (does it start with an assistant turn?)`},
		{"SFT row", Row{Format: FormatText, Text: "t"},
			where + `: is a text row; preference training needs chosen and rejected`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.row.Where = where
			_, _, err := EncodePreference([]Row{tc.row}, fakeTokenizer{}, PreferenceOptions{})
			require.ErrorIs(t, err, ErrBadRow)
			assert.EqualError(t, err, tc.wantErr)

			good := Row{Where: "p.jsonl:2", Format: FormatPreference, Prompt: Content{Text: "p"}, Chosen: Content{Text: "a"}, Rejected: Content{Text: "b"}}
			examples, report, err := EncodePreference([]Row{tc.row, good}, fakeTokenizer{}, PreferenceOptions{SkipBadRows: true})
			require.NoError(t, err)
			assert.Len(t, examples, 1)
			assert.Equal(t, 1, report.Skipped)
		})
	}
}

func TestEncodePrompts(t *testing.T) {
	rows := []Row{
		{Where: "q.jsonl:1", Format: FormatPrompt, Prompt: Content{Text: "write"}},
		{Where: "q.jsonl:2", Format: FormatPrompt, Prompt: Content{Messages: msgs("user", "hi")}},
		{Where: "q.jsonl:3", Format: FormatPreference, Prompt: Content{Text: "p"}, Chosen: Content{Text: "a"}, Rejected: Content{Text: "b"}},
		{Where: "q.jsonl:4", Format: FormatPrompt, Prompt: Content{Text: "this prompt is much too long"}},
	}
	prompts, report, err := EncodePrompts(rows, fakeTokenizer{}, PromptOptions{MaxLength: 21})
	require.NoError(t, err)
	require.Len(t, prompts, 3)
	assert.Equal(t, "<s>write", fakeText(prompts[0]))
	assert.Equal(t, "<s>[user]hi</t>[assistant]", fakeText(prompts[1]), "a conversational prompt ends with the generation prompt")
	assert.Equal(t, "<s>p", fakeText(prompts[2]))
	assert.Equal(t, 1, report.Dropped)

	_, _, err = EncodePrompts([]Row{{Where: "q.jsonl:9", Format: FormatMessages, Messages: msgs("user", "q")}}, fakeTokenizer{}, PromptOptions{})
	assert.EqualError(t, err, `q.jsonl:9: field "prompt" is missing: a messages row has no prompt to generate from`)
}
