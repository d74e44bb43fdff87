package datasets

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// arrowConversation is the Parquet shape Hugging Face datasets (via Arrow) gives a list of
// {role, content} structs: an optional LIST of optional structs of optional strings.
func arrowConversation() parquet.Node {
	return parquet.Optional(parquet.List(parquet.Optional(parquet.Group{
		"role":    parquet.Optional(parquet.String()),
		"content": parquet.Optional(parquet.String()),
	})))
}

func writeParquet(t *testing.T, path string, schema parquet.Group, rows []map[string]any) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	require.NoError(t, err)
	w := parquet.NewGenericWriter[map[string]any](f, parquet.NewSchema("schema", schema))
	_, err = w.Write(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
	return path
}

func turn(role, content string) map[string]any {
	return map[string]any{"role": role, "content": content}
}

func TestLoadParquetConversations(t *testing.T) {
	path := writeParquet(t, filepath.Join(t.TempDir(), "train.parquet"),
		parquet.Group{"messages": arrowConversation(), "source": parquet.Optional(parquet.String())},
		[]map[string]any{
			{"messages": []any{turn("user", "hi"), turn("assistant", "hello")}, "source": "x"},
			{"messages": []any{turn("user", "q")}, "source": nil},
		})
	rows, report, err := Load(path, LoadOptions{})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, Row{Where: path + ":row 1", Format: FormatMessages, Messages: msgs("user", "hi", "assistant", "hello")}, rows[0])
	assert.Equal(t, path+":row 2", rows[1].Where)
	assert.Equal(t, 2, report.Rows)
}

func TestLoadParquetPreferenceWithMargin(t *testing.T) {
	path := writeParquet(t, filepath.Join(t.TempDir(), "prefs.parquet"),
		parquet.Group{
			"prompt":   parquet.Optional(parquet.String()),
			"chosen":   parquet.Optional(parquet.String()),
			"rejected": parquet.Optional(parquet.String()),
			"margin":   parquet.Optional(parquet.Leaf(parquet.DoubleType)),
		},
		[]map[string]any{
			{"prompt": "p", "chosen": "good", "rejected": "bad", "margin": 0.25},
			{"prompt": "p", "chosen": "good", "rejected": "bad", "margin": nil},
		})
	rows, _, err := Load(path, LoadOptions{})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, Row{Where: path + ":row 1", Format: FormatPreference, Prompt: Content{Text: "p"},
		Chosen: Content{Text: "good"}, Rejected: Content{Text: "bad"}, Margin: 0.25, HasMargin: true}, rows[0])
	assert.False(t, rows[1].HasMargin, "a null margin is an absent margin")
}

func TestLoadParquetBadRows(t *testing.T) {
	path := writeParquet(t, filepath.Join(t.TempDir(), "train.parquet"),
		parquet.Group{"messages": arrowConversation()},
		[]map[string]any{
			{"messages": []any{turn("user", "hi")}},
			{"messages": nil},
			{"messages": []any{}},
			{"messages": []any{map[string]any{"role": nil, "content": "x"}}},
		})
	_, _, err := Load(path, LoadOptions{})
	require.ErrorIs(t, err, ErrBadRow)
	assert.EqualError(t, err, path+`:row 2: field "messages" must be a list of {role, content}, found null`)

	_, report, err := Load(path, LoadOptions{SkipBadRows: true})
	require.NoError(t, err)
	assert.Equal(t, 1, report.Rows)
	assert.Equal(t, []string{
		path + `:row 2: field "messages" must be a list of {role, content}, found null`,
		path + `:row 3: field "messages" is an empty conversation`,
		path + `:row 4: field "messages[0].role" must be a string, found null`,
	}, report.SkippedReasons)
}

func TestLoadMixedShardDirectory(t *testing.T) {
	dir := t.TempDir()
	schema := parquet.Group{"text": parquet.Optional(parquet.String())}
	writeParquet(t, filepath.Join(dir, "train-00001.parquet"), schema, []map[string]any{{"text": "b"}, {"text": "c"}})
	writeJSONL(t, dir, "train-00000.jsonl", `{"text":"a"}`)
	writeParquet(t, filepath.Join(dir, "train-00002.parquet"), schema, []map[string]any{{"text": "d"}})

	rows, report, err := Load(dir, LoadOptions{Format: FormatText})
	require.NoError(t, err)
	var texts []string
	for _, r := range rows {
		texts = append(texts, r.Text)
	}
	assert.Equal(t, []string{"a", "b", "c", "d"}, texts)
	assert.Equal(t, filepath.Join(dir, "train-00002.parquet")+":row 1", rows[3].Where)
	assert.Equal(t, 4, report.Rows)
}

func TestLoadCorruptParquet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.parquet")
	require.NoError(t, os.WriteFile(path, []byte("PAR1 this is not parquet"), 0o644))
	_, _, err := Load(path, LoadOptions{SkipBadRows: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.NotErrorIs(t, err, ErrBadRow, "a broken file is not a row that can be skipped")
}
