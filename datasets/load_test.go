package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeJSONL writes lines (already JSON) to dir/name and returns its path.
func writeJSONL(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

func msgs(pairs ...string) []Message {
	out := make([]Message, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Message{Role: pairs[i], Content: pairs[i+1]})
	}
	return out
}

func TestLoadFormats(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Row // Where is filled in by the test
	}{
		{"messages",
			`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}],"id":7}`,
			Row{Format: FormatMessages, Messages: msgs("user", "hi", "assistant", "hello")}},
		{"prompt completion plain",
			`{"prompt":"2+2=","completion":"4"}`,
			Row{Format: FormatPromptCompletion, Prompt: Content{Text: "2+2="}, Completion: Content{Text: "4"}}},
		{"prompt completion conversational",
			`{"prompt":[{"role":"user","content":"2+2?"}],"completion":[{"role":"assistant","content":"4"}]}`,
			Row{Format: FormatPromptCompletion, Prompt: Content{Messages: msgs("user", "2+2?")},
				Completion: Content{Messages: msgs("assistant", "4")}}},
		{"text", `{"text":"once upon a time"}`, Row{Format: FormatText, Text: "once upon a time"}},
		{"prompt only", `{"prompt":"write a poem"}`, Row{Format: FormatPrompt, Prompt: Content{Text: "write a poem"}}},
		{"preference explicit plain with margin",
			`{"prompt":"sky is","chosen":" blue","rejected":" green","margin":1.5}`,
			Row{Format: FormatPreference, Prompt: Content{Text: "sky is"}, Chosen: Content{Text: " blue"},
				Rejected: Content{Text: " green"}, Margin: 1.5, HasMargin: true}},
		{"preference explicit conversational",
			`{"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}`,
			Row{Format: FormatPreference, Prompt: Content{Messages: msgs("user", "q")},
				Chosen: Content{Messages: msgs("assistant", "good")}, Rejected: Content{Messages: msgs("assistant", "bad")}}},
		{"preference implicit conversational",
			`{"chosen":[{"role":"system","content":"s"},{"role":"user","content":"q"},{"role":"assistant","content":"good"}],` +
				`"rejected":[{"role":"system","content":"s"},{"role":"user","content":"q"},{"role":"assistant","content":"bad"}]}`,
			Row{Format: FormatPreference, Prompt: Content{Messages: msgs("system", "s", "user", "q")},
				Chosen: Content{Messages: msgs("assistant", "good")}, Rejected: Content{Messages: msgs("assistant", "bad")}}},
		{"preference implicit plain gives the space to the completions",
			`{"chosen":"The sky is blue","rejected":"The sky is green"}`,
			Row{Format: FormatPreference, Prompt: Content{Text: "The sky is"}, Chosen: Content{Text: " blue"},
				Rejected: Content{Text: " green"}}},
		{"preference implicit plain never splits a rune",
			`{"chosen":"a é","rejected":"a è"}`,
			Row{Format: FormatPreference, Prompt: Content{Text: "a"}, Chosen: Content{Text: " é"}, Rejected: Content{Text: " è"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeJSONL(t, t.TempDir(), "train.jsonl", tc.line)
			rows, report, err := Load(path, LoadOptions{})
			require.NoError(t, err)
			require.Len(t, rows, 1)
			tc.want.Where = path + ":1"
			assert.Equal(t, tc.want, rows[0])
			assert.Equal(t, 1, report.Rows)
			assert.Equal(t, []string{path}, report.Files)
		})
	}
}

func TestLoadNamedFormatHoldsEveryRow(t *testing.T) {
	dir := t.TempDir()
	path := writeJSONL(t, dir, "d.jsonl",
		`{"prompt":"p","chosen":"a","rejected":"b"}`,
		``, // blank lines are not rows but still count as lines
		`{"prompt":"p","chosen":"a"}`)
	_, _, err := Load(path, LoadOptions{Format: FormatPreference})
	require.ErrorIs(t, err, ErrBadRow)
	assert.EqualError(t, err, path+`:3: field "rejected" is missing`)

	// Auto detection fixes the format from the first row: a later text row is an error, not a new format.
	path = writeJSONL(t, dir, "mixed.jsonl", `{"text":"a"}`, `{"messages":[{"role":"user","content":"x"}]}`)
	_, _, err = Load(path, LoadOptions{})
	assert.EqualError(t, err, path+`:2: field "text" is missing`)
}

func TestLoadBadRows(t *testing.T) {
	tests := []struct {
		name, format, line, wantErr string
	}{
		{"malformed JSON", "", `{"text": "a"`, `:1: malformed JSON: unexpected end of JSON input`},
		{"not an object", "", `"text"`, `:1: line must be a JSON object, found string`},
		{"unknown fields", "", `{"question":"q","answer":"a"}`,
			`:1: cannot tell the dataset format: expected messages, prompt+completion, text, or chosen+rejected fields, found [answer, question] (name the format in the recipe to get a precise error)`},
		{"messages is a string", "", `{"messages":"hello"}`, `:1: field "messages" must be a list of {role, content}, found string`},
		{"messages empty", "", `{"messages":[]}`, `:1: field "messages" is an empty conversation`},
		{"message not object", "", `{"messages":[{"role":"user","content":"a"},"b"]}`, `:1: field "messages[1]" must be a {role, content} object, found string`},
		{"role missing", "", `{"messages":[{"content":"a"}]}`, `:1: field "messages[0].role" is missing`},
		{"role empty", "", `{"messages":[{"role":"","content":"a"}]}`, `:1: field "messages[0].role" is empty`},
		{"content mistyped", "", `{"messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]}`, `:1: field "messages[0].content" must be a string, found list`},
		{"content null", "", `{"messages":[{"role":"user","content":null}]}`, `:1: field "messages[0].content" must be a string, found null`},
		{"named format missing field", "messages", `{"text":"a"}`, `:1: field "messages" is missing`},
		{"text mistyped", "text", `{"text":3}`, `:1: field "text" must be a string, found number`},
		{"text empty", "", `{"text":""}`, `:1: field "text" is empty`},
		{"completion empty", "", `{"prompt":"p","completion":""}`, `:1: field "completion" is empty`},
		{"completion shape differs", "", `{"prompt":[{"role":"user","content":"q"}],"completion":"a"}`,
			`:1: field "completion" must be a list of {role, content} like the other fields of this row, found string`},
		{"prompt mistyped", "", `{"prompt":{"a":1},"completion":"a"}`, `:1: field "prompt" must be a string or a list of {role, content}, found object`},
		{"chosen missing", "", `{"prompt":"p","rejected":"r"}`, `:1: field "chosen" is missing`},
		{"chosen null", "preference", `{"prompt":"p","chosen":null,"rejected":"r"}`, `:1: field "chosen" must be a string or a list of {role, content}, found null`},
		{"margin mistyped", "", `{"chosen":"a","rejected":"b","margin":"big"}`, `:1: field "margin" must be a number, found string`},
		{"identical pair", "", `{"prompt":"p","chosen":"a","rejected":"a"}`, `:1: field "rejected" is identical to "chosen": the pair carries no preference`},
		{"prompt shape differs from chosen", "", `{"prompt":"p","chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]}`,
			`:1: field "chosen" must be a string like the other fields of this row, found list`},
		{"implicit pair with nothing after the prompt", "", `{"chosen":[{"role":"user","content":"q"}],"rejected":[{"role":"user","content":"q"},{"role":"assistant","content":"b"}]}`,
			`:1: field "chosen" has no messages after the prompt`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeJSONL(t, t.TempDir(), "train.jsonl", tc.line)
			_, _, err := Load(path, LoadOptions{Format: Format(tc.format)})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrBadRow)
			assert.Equal(t, path+tc.wantErr, err.Error())
		})
	}
}

func TestLoadSkipBadRowsCounts(t *testing.T) {
	path := writeJSONL(t, t.TempDir(), "train.jsonl",
		`{"prompt":"p","completion":"c"}`,
		`{"prompt":"p"`,
		`{"prompt":"p","completion":5}`,
		`{"prompt":"p2","completion":"c2"}`)
	_, _, err := Load(path, LoadOptions{})
	require.EqualError(t, err, path+`:2: malformed JSON: unexpected end of JSON input`)

	rows, report, err := Load(path, LoadOptions{SkipBadRows: true})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, path+":4", rows[1].Where)
	assert.Equal(t, 2, report.Rows)
	assert.Equal(t, 2, report.Skipped)
	assert.Equal(t, []string{
		path + `:2: malformed JSON: unexpected end of JSON input`,
		path + `:3: field "completion" must be a string or a list of {role, content}, found number`,
	}, report.SkippedReasons)
	assert.Contains(t, report.String(), "2 rows kept, 2 bad rows skipped")
}

func TestLoadAllRowsBadIsAnError(t *testing.T) {
	path := writeJSONL(t, t.TempDir(), "train.jsonl", `{"text":1}`, `nope`)
	_, report, err := Load(path, LoadOptions{SkipBadRows: true})
	require.ErrorContains(t, err, "no usable rows (2 skipped)")
	assert.Equal(t, 2, report.Skipped)
}

func TestLoadShardDirectory(t *testing.T) {
	dir := t.TempDir()
	// Written out of order, in a nested folder as Hub repositories lay them out; a hidden cache is ignored.
	writeJSONL(t, dir, "data/train-00001-of-00002.jsonl", `{"text":"c"}`)
	writeJSONL(t, dir, "data/train-00000-of-00002.jsonl", `{"text":"a"}`, `{"text":"b"}`)
	writeJSONL(t, dir, ".cache/junk.jsonl", `not json`)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("# card"), 0o644))

	rows, report, err := Load(dir, LoadOptions{})
	require.NoError(t, err)
	var texts []string
	for _, r := range rows {
		texts = append(texts, r.Text)
	}
	assert.Equal(t, []string{"a", "b", "c"}, texts)
	assert.Equal(t, filepath.Join(dir, "data/train-00001-of-00002.jsonl")+":1", rows[2].Where)
	assert.Len(t, report.Files, 2)
}

func TestLoadPathErrors(t *testing.T) {
	dir := t.TempDir()
	_, _, err := Load(filepath.Join(dir, "missing.jsonl"), LoadOptions{})
	assert.ErrorIs(t, err, os.ErrNotExist)

	_, _, err = Load(dir, LoadOptions{})
	assert.ErrorContains(t, err, "no .jsonl, .json or .parquet files")

	csv := filepath.Join(dir, "d.csv")
	require.NoError(t, os.WriteFile(csv, []byte("a,b\n"), 0o644))
	_, _, err = Load(csv, LoadOptions{})
	assert.ErrorContains(t, err, "unknown file type")

	array := writeJSONL(t, dir, "d.json", `[{"text":"a"}]`)
	_, _, err = Load(array, LoadOptions{})
	assert.ErrorContains(t, err, "holds a JSON array; expected JSON Lines")

	_, _, err = Load(array, LoadOptions{Format: "chat"})
	assert.ErrorContains(t, err, `unknown format "chat"`)
}

func TestLoadJSONLWithCRLFAndBOM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("\xef\xbb\xbf{\"text\":\"a\"}\r\n{\"text\":\"b\"}"), 0o644))
	rows, _, err := Load(path, LoadOptions{})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "b", rows[1].Text) // the last line has no newline
}
