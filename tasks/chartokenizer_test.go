package tasks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/tokenizer"
)

func TestCharTokenizerLoadsAndRoundTrips(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteCharTokenizer(dir))
	tok, err := tokenizer.Load(dir)
	require.NoError(t, err)
	require.Equal(t, CharTokenizerVocabSize, tok.VocabSize())
	ids := tok.Encode("abc xyz", tokenizer.EncodeOptions{})
	require.Equal(t, []int32{'a', 'b', 'c', ' ', 'x', 'y', 'z'}, ids, "one token per byte, id = byte")
	require.Equal(t, "héllo <|eot_id|>", tok.Decode(tok.Encode("héllo <|eot_id|>", tokenizer.EncodeOptions{})))
	eot, ok := tok.TokenID(EOTToken)
	require.True(t, ok)
	require.Contains(t, tok.EOS(), eot)
	s, err := tok.ApplyChatTemplate([]tokenizer.Message{{Role: "user", Content: "abc"}}, true)
	require.NoError(t, err)
	require.Equal(t, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nabc<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", s)
	special := tok.Encode(s, tokenizer.EncodeOptions{Special: true})
	require.Equal(t, int32(256), special[0], "BOS parsed as its special id")
}
