package tokenizer

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadLlama3(t *testing.T) {
	start := time.Now()
	tok, err := Load(filepath.Join(fixtureDir, "llama3"))
	elapsed := time.Since(start)
	require.NoError(t, err)
	t.Logf("Load took %v", elapsed)

	assert.Equal(t, 128256, tok.VocabSize())
	bos, ok := tok.TokenID("<|begin_of_text|>")
	require.True(t, ok)
	assert.Equal(t, bos, tok.BOS())
	eot, ok := tok.TokenID("<|eot_id|>")
	require.True(t, ok)
	assert.Equal(t, []int32{eot}, tok.EOS(), "tokenizer_config.json's eos_token is <|eot_id|>")
	_, hasPad := tok.Pad()
	assert.False(t, hasPad, "Llama 3 has no pad token")

	hello := tok.Encode("Hello", EncodeOptions{})
	require.Len(t, hello, 1)
	id, ok := tok.TokenID("Hello")
	require.True(t, ok)
	assert.Equal(t, hello[0], id, "TokenID of a vocabulary token takes its decoded text")

	files := tok.Files()
	assert.Contains(t, files, "tokenizer.json")
	assert.Contains(t, files, "tokenizer_config.json")
	assert.NotContains(t, files, "generation_config.json")
}
