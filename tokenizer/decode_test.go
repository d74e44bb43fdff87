package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamDecoderNeverSplitsCharacters(t *testing.T) {
	tok := loadLlama3(t)
	texts := []string{
		"😀😀😀 emoji split over byte tokens",
		"我爱自然语言处理。今天天气很好。",
		"👩🏾\u200d🤝\u200d👩🏻 and 𠜎𠜱𠝹",
		"plain ASCII with <|eot_id|> literal",
	}
	for _, v := range readJSONL[encodeVector](t, "vectors.jsonl") {
		texts = append(texts, v.Text)
	}
	sawHeldBack := false
	for _, text := range texts {
		ids := tok.Encode(text, EncodeOptions{})
		d := tok.NewStreamDecoder()
		var got strings.Builder
		for _, id := range ids {
			piece := d.Push(id)
			require.True(t, utf8.ValidString(piece), "Push returned a partial character %q for %q", piece, text)
			if piece == "" && len(tok.Decode([]int32{id})) > 0 {
				sawHeldBack = true
			}
			got.WriteString(piece)
		}
		got.WriteString(d.Flush())
		assert.Equal(t, text, got.String())
	}
	assert.True(t, sawHeldBack, "the texts must include a character split across tokens")
}

func TestStreamDecoderFlushesIncompleteTail(t *testing.T) {
	tok := loadLlama3(t)
	ids := tok.Encode("😀", EncodeOptions{})
	require.Greater(t, len(ids), 1, "the emoji should take several byte tokens")
	d := tok.NewStreamDecoder()
	for _, id := range ids[:len(ids)-1] {
		assert.Empty(t, d.Push(id))
	}
	tail := d.Flush()
	assert.Equal(t, tok.Decode(ids[:len(ids)-1]), tail, "Flush returns the held bytes as they are")
	assert.Empty(t, d.Flush())
}

func TestDecodeSkipsUnknownIDs(t *testing.T) {
	tok := loadLlama3(t)
	hello := tok.Encode("Hello", EncodeOptions{})
	assert.Equal(t, "Hello", tok.Decode(append([]int32{-1, 1 << 30}, hello...)))
}

func TestCompleteUTF8Prefix(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want int
	}{
		{"empty", nil, 0},
		{"ascii", []byte("ab"), 2},
		{"complete emoji", []byte("a😀"), 5},
		{"one byte of four", []byte("a\xF0"), 1},
		{"three bytes of four", []byte("a\xF0\x9F\x98"), 1},
		{"two bytes of three", []byte("\xE6\x88"), 0},
		{"invalid lead is not held", []byte("a\xFF"), 2},
		{"stray continuation is not held", []byte("a\x80"), 2},
		{"invalid sequence is not held", []byte("a\xF0\x41"), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, completeUTF8Prefix(tc.in))
		})
	}
}
