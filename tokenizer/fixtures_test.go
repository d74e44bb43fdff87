package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fixtures"
)

// fixtureDir is the folder holding the Llama 3 tokenizer and the golden vectors from Hugging Face.
func fixtureDir(t testing.TB) string { return fixtures.Path(t, "tokenizer") }

var (
	llama3Once sync.Once
	llama3     *Tokenizer
	llama3Err  error
)

// loadLlama3 loads the fixture tokenizer once for all tests of the package.
func loadLlama3(t testing.TB) *Tokenizer {
	t.Helper()
	dir := filepath.Join(fixtureDir(t), "llama3")
	llama3Once.Do(func() { llama3, llama3Err = Load(dir) })
	require.NoError(t, llama3Err)
	return llama3
}

type encodeVector struct {
	ID            int     `json:"id"`
	Text          string  `json:"text"`
	IDsText       []int32 `json:"ids_text"`
	IDsSpecial    []int32 `json:"ids_special"`
	IDsBOSSpecial []int32 `json:"ids_bos_special"`
}

type chatVector struct {
	ID                  int       `json:"id"`
	Messages            []Message `json:"messages"`
	AddGenerationPrompt bool      `json:"add_generation_prompt"`
	Rendered            string    `json:"rendered"`
	IDs                 []int32   `json:"ids"`
	Source              string    `json:"source"`
}

// readJSONL decodes every line of a fixture file into a T.
func readJSONL[T any](t testing.TB, name string) []T {
	t.Helper()
	return readJSONLFile[T](t, filepath.Join(fixtureDir(t), name))
}

// readJSONLFile decodes every line of the file at path into a T.
func readJSONLFile[T any](t testing.TB, path string) []T {
	t.Helper()
	name := path
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v T
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), "%s line %d", name, len(out)+1)
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out, name)
	return out
}
