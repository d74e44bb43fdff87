package datasets

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const where = "train.jsonl:7"

func TestEncodeSFTLabels(t *testing.T) {
	tests := []struct {
		name        string
		row         Row
		lossOn      LossOn
		wantText    string
		wantLabeled string
	}{
		{"messages: every assistant turn and its end-of-turn",
			Row{Format: FormatMessages, Messages: msgs("system", "S", "user", "q1", "assistant", "A1", "user", "q2", "assistant", "A2")},
			"", "<s>[system]S</t>[user]q1</t>[assistant]A1</t>[user]q2</t>[assistant]A2</t>", "A1</t>|A2</t>"},
		{"messages: a conversation that opens with the assistant",
			Row{Format: FormatMessages, Messages: msgs("assistant", "Hi", "user", "q", "assistant", "A")},
			"", "<s>[assistant]Hi</t>[user]q</t>[assistant]A</t>", "Hi</t>|A</t>"},
		{"messages: loss on all tokens",
			Row{Format: FormatMessages, Messages: msgs("user", "q", "assistant", "A")},
			LossOnAll, "<s>[user]q</t>[assistant]A</t>", "[user]q</t>[assistant]A</t>"},
		{"messages: no assistant turn is fine with loss on all",
			Row{Format: FormatMessages, Messages: msgs("user", "q")},
			LossOnAll, "<s>[user]q</t>", "[user]q</t>"},
		{"prompt/completion plain: BOS, EOS, and a token across the boundary stays masked",
			Row{Format: FormatPromptCompletion, Prompt: Content{Text: "xa"}, Completion: Content{Text: "bc"}},
			"", "<s>xabc</t>", "c</t>"},
		{"prompt/completion plain: loss on all",
			Row{Format: FormatPromptCompletion, Prompt: Content{Text: "x"}, Completion: Content{Text: "y"}},
			LossOnAll, "<s>xy</t>", "xy</t>"},
		{"prompt/completion conversational",
			Row{Format: FormatPromptCompletion, Prompt: Content{Messages: msgs("system", "S", "user", "q")},
				Completion: Content{Messages: msgs("assistant", "A")}},
			"", "<s>[system]S</t>[user]q</t>[assistant]A</t>", "A</t>"},
		{"text: every token after the first",
			Row{Format: FormatText, Text: "hello"}, "", "<s>hello</t>", "hello</t>"},
		{"plain text keeps special literals as text",
			Row{Format: FormatText, Text: "a</t>"}, "", "<s>a</t></t>", "a</t></t>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.row.Where = where
			examples, report, err := EncodeSFT([]Row{tc.row}, fakeTokenizer{}, SFTOptions{LossOn: tc.lossOn})
			require.NoError(t, err)
			require.Len(t, examples, 1)
			ex := examples[0]
			assert.Equal(t, tc.wantText, fakeText(ex.IDs))
			assert.Equal(t, tc.wantLabeled, labelled(ex))
			assert.Equal(t, IgnoreIndex, ex.Labels[0], "nothing predicts the first token")
			assert.Len(t, ex.Labels, len(ex.IDs))
			assert.Equal(t, 1, report.Rows)
		})
	}
}

func TestEncodeSFTPlainTextSpecialLiteralIsNotEOS(t *testing.T) {
	// "</t>" typed by a user is four byte tokens, not the end-of-turn id.
	examples, _, err := EncodeSFT([]Row{{Where: where, Format: FormatText, Text: "a</t>"}}, fakeTokenizer{}, SFTOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int32{fakeBOS, 'a', '<', '/', 't', '>', fakeEOT}, examples[0].IDs)
}

func TestEncodeSFTBadRows(t *testing.T) {
	tests := []struct {
		name    string
		tok     fakeTokenizer
		row     Row
		wantErr string
	}{
		{"role the template rejects", fakeTokenizer{},
			Row{Format: FormatMessages, Messages: msgs("user", "q", "tool", "{}", "assistant", "A")},
			where + `: field "messages" is rejected by the chat template: role "tool" is not supported`},
		{"role rejected in a conversational prompt", fakeTokenizer{},
			Row{Format: FormatPromptCompletion, Prompt: Content{Messages: msgs("narrator", "q")}, Completion: Content{Messages: msgs("assistant", "A")}},
			where + `: field "prompt" is rejected by the chat template: role "narrator" is not supported`},
		{"no assistant turn", fakeTokenizer{},
			Row{Format: FormatMessages, Messages: msgs("user", "q")},
			where + `: field "messages" has no assistant turn to learn from (hint: loss on all tokens trains on it)`},
		{"template not prefix-consistent", fakeTokenizer{trailer: "<end>"},
			Row{Format: FormatMessages, Messages: msgs("user", "q", "assistant", "A", "user", "q2", "assistant", "B")},
			where + `: field "messages[1]" cannot be located for the loss mask: the chat template does not render the conversation up to this assistant turn as a prefix of the whole (hint: train on all tokens, or use prompt/completion)`},
		{"completion that is not an assistant turn", fakeTokenizer{},
			Row{Format: FormatPromptCompletion, Prompt: Content{Messages: msgs("user", "q")}, Completion: Content{Messages: msgs("user", "again")}},
			where + `: field "completion" cannot be located for the loss mask: the chat template's rendering of the prompt with a generation prompt is not a prefix of prompt+completion (does the completion start with an assistant turn?)`},
		{"preference row", fakeTokenizer{},
			Row{Format: FormatPreference, Chosen: Content{Text: "a"}, Rejected: Content{Text: "b"}},
			where + `: is a preference row; SFT needs messages, prompt/completion or text`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.row.Where = where
			good := Row{Where: "train.jsonl:8", Format: FormatText, Text: "ok"}
			_, _, err := EncodeSFT([]Row{tc.row, good}, tc.tok, SFTOptions{})
			require.ErrorIs(t, err, ErrBadRow)
			assert.EqualError(t, err, tc.wantErr)

			examples, report, err := EncodeSFT([]Row{tc.row, good}, tc.tok, SFTOptions{SkipBadRows: true})
			require.NoError(t, err)
			assert.Len(t, examples, 1)
			assert.Equal(t, 1, report.Rows)
			assert.Equal(t, 1, report.Skipped)
			assert.Equal(t, []string{tc.wantErr}, report.SkippedReasons)
		})
	}
}

func TestEncodeSFTTruncation(t *testing.T) {
	// "<s>[user]q</t>[assistant]Abc</t>": 24 tokens; the assistant part "Abc</t>" is the last 4.
	row := Row{Where: where, Format: FormatMessages, Messages: msgs("user", "q", "assistant", "Abc")}
	tests := []struct {
		name        string
		opts        SFTOptions
		wantText    string
		wantLabeled string
		truncated   int
	}{
		{"fits", SFTOptions{MaxLength: 24}, "<s>[user]q</t>[assistant]Abc</t>", "Abc</t>", 0},
		{"keep start drops the end", SFTOptions{MaxLength: 22}, "<s>[user]q</t>[assistant]Ab", "Ab", 1},
		{"keep start is the default", SFTOptions{MaxLength: 22, Truncation: KeepStart}, "<s>[user]q</t>[assistant]Ab", "Ab", 1},
		{"keep end drops the beginning", SFTOptions{MaxLength: 6, Truncation: KeepEnd}, "t]Abc</t>", "Abc</t>", 1},
		{"keep end masks its new first token", SFTOptions{MaxLength: 3, Truncation: KeepEnd}, "bc</t>", "c</t>", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			examples, report, err := EncodeSFT([]Row{row}, fakeTokenizer{}, tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.wantText, fakeText(examples[0].IDs))
			assert.Equal(t, tc.wantLabeled, labelled(examples[0]))
			assert.Equal(t, tc.truncated, report.Truncated)
		})
	}
}

func TestEncodeSFTOptionErrors(t *testing.T) {
	rows := []Row{{Where: where, Format: FormatText, Text: "a"}}
	for _, opts := range []SFTOptions{{MaxLength: -1}, {Truncation: "middle"}, {LossOn: "prompt"}} {
		_, _, err := EncodeSFT(rows, fakeTokenizer{}, opts)
		assert.Error(t, err, "%+v", opts)
	}
	_, _, err := EncodeSFT(rows, fakeTokenizer{noEOS: true}, SFTOptions{})
	assert.ErrorContains(t, err, "no EOS token")
}
