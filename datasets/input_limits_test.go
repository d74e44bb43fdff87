package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadInputRowsNameFileLineAndField(t *testing.T) {
	good := `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`
	for _, tc := range []struct {
		name, line, want string
	}{
		{"invalid UTF-8", "{\"text\":\"caf\xe9\"}", "invalid UTF-8 at byte offset 12"},
		{"lone surrogate escape", `{"text":"a\udc00b"}`, "surrogate"},
		{"high surrogate without low", `{"text":"a\ud83dxyz"}`, "surrogate"},
		{"unknown role", `{"messages":[{"role":"usr","content":"hi"}]}`, `field "messages[0].role" is "usr", not a known role`},
		{"system after user", `{"messages":[{"role":"user","content":"hi"},{"role":"system","content":"be nice"}]}`,
			`field "messages[1].role" is "system" after a "user" message`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeJSONL(t, t.TempDir(), "d.jsonl", good, tc.line)
			_, _, err := Load(path, LoadOptions{})
			require.ErrorIs(t, err, ErrBadRow)
			assert.Contains(t, err.Error(), path+":2")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestValidSurrogatePairsAndEscapedBackslashesPass(t *testing.T) {
	path := writeJSONL(t, t.TempDir(), "d.jsonl", `{"text":"smile \ud83d\ude00 and \\udc00 stays text"}`)
	rows, _, err := Load(path, LoadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "smile 😀 and \\udc00 stays text", rows[0].Text)
}

func TestOverlongLineIsABadRowWithoutReadingItAll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.jsonl")
	huge := `{"text":"` + strings.Repeat("a", MaxLineBytes) + `"}`
	require.NoError(t, os.WriteFile(path, []byte(`{"text":"ok"}`+"\n"+huge+"\n"+`{"text":"after"}`+"\n"), 0o644))

	_, _, err := Load(path, LoadOptions{})
	require.ErrorIs(t, err, ErrBadRow)
	assert.Contains(t, err.Error(), path+":2")
	assert.Contains(t, err.Error(), "more than the 8388608 a row may have")

	rows, report, err := Load(path, LoadOptions{SkipBadRows: true})
	require.NoError(t, err)
	assert.Len(t, rows, 2, "the rows around the long line survive")
	assert.Equal(t, 1, report.Skipped)
	assert.Equal(t, path+":3", rows[1].Where)
}

func TestSpecialFilesAreRefusedBeforeOpening(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "train.jsonl")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, _, err := Load(fifo, LoadOptions{}) // os.Open would block until a writer appears
	require.Error(t, err)
	assert.Contains(t, err.Error(), "named pipe")
	_, _, err = Load(dir, LoadOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "named pipe")
}

func TestParquetInvalidUTF8IsAnErrorNotReplacementCharacters(t *testing.T) {
	path := writeParquet(t, filepath.Join(t.TempDir(), "train.parquet"),
		parquet.Group{"messages": arrowConversation()},
		[]map[string]any{
			{"messages": []any{turn("user", "hi"), turn("assistant", "ok")}},
			{"messages": []any{turn("user", "caf\xe9"), turn("assistant", "ok")}},
		})
	_, _, err := Load(path, LoadOptions{})
	require.ErrorIs(t, err, ErrBadRow)
	assert.EqualError(t, err, path+`:row 2: field "messages" holds invalid UTF-8; the column must be UTF-8 text`)
}
