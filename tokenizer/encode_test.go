package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeMatchesHuggingFace(t *testing.T) {
	tok := loadLlama3(t)
	for _, v := range readJSONL[encodeVector](t, "vectors.jsonl") {
		t.Run(fmt.Sprintf("%d", v.ID), func(t *testing.T) {
			assert.Equal(t, v.IDsText, tok.Encode(v.Text, EncodeOptions{}), "ids_text of %q", v.Text)
			assert.Equal(t, v.IDsSpecial, tok.Encode(v.Text, EncodeOptions{Special: true}), "ids_special of %q", v.Text)
			assert.Equal(t, v.IDsBOSSpecial, tok.Encode(v.Text, EncodeOptions{Special: true, BOS: true}), "ids_bos_special of %q", v.Text)
		})
	}
}

func TestDecodeIsExact(t *testing.T) {
	tok := loadLlama3(t)
	for _, v := range readJSONL[encodeVector](t, "vectors.jsonl") {
		assert.Equal(t, v.Text, tok.Decode(v.IDsText), "vector %d", v.ID)
		assert.Equal(t, v.Text, tok.Decode(v.IDsSpecial), "vector %d", v.ID)
	}
}

func TestEncodeWithOffsets(t *testing.T) {
	tok := loadLlama3(t)
	texts := []string{}
	for _, v := range readJSONL[encodeVector](t, "vectors.jsonl") {
		texts = append(texts, v.Text)
	}
	for _, text := range texts {
		for _, opts := range []EncodeOptions{{}, {Special: true, BOS: true}} {
			ids, offsets := tok.EncodeWithOffsets(text, opts)
			require.Equal(t, tok.Encode(text, opts), ids)
			require.Len(t, offsets, len(ids))
			covered := 0 // the spans, in order, must tile the text
			for k, span := range offsets {
				start, end := span[0], span[1]
				require.True(t, 0 <= start && start <= end && end <= len(text), "span %v of %q", span, text)
				if opts.BOS && k == 0 {
					assert.Equal(t, [2]int{0, 0}, span)
					continue
				}
				assert.LessOrEqual(t, start, covered, "gap before token %d of %q", k, text)
				assert.True(t, utf8.ValidString(text[start:end]) || !utf8.ValidString(text), "span %v cuts a character of %q", span, text)
				tokenText := tok.Decode(ids[k : k+1])
				if utf8.ValidString(tokenText) {
					assert.Equal(t, tokenText, text[start:end], "token %d of %q", k, text)
				} else { // part of a character: the span widens to the whole character
					assert.Greater(t, end-start, len(tokenText), "token %d of %q", k, text)
				}
				covered = max(covered, end)
			}
			assert.Equal(t, len(text), covered, "spans must reach the end of %q", text)
		}
	}
}

func TestEncodeWithOffsetsSpecialLiteral(t *testing.T) {
	tok := loadLlama3(t)
	text := "Hi<|eot_id|>😀"
	ids, offsets := tok.EncodeWithOffsets(text, EncodeOptions{Special: true})
	eot, _ := tok.TokenID("<|eot_id|>")
	require.Equal(t, eot, ids[1])
	assert.Equal(t, [2]int{2, 12}, offsets[1])
	require.Greater(t, len(ids), 3, "the emoji takes several byte tokens")
	for _, span := range offsets[2:] {
		assert.Equal(t, [2]int{12, 16}, span, "a token inside a character spans the whole character")
	}
}

func TestEncodeLongWordsStayFast(t *testing.T) {
	tok := loadLlama3(t)
	// One pre-token of 200 kB: a quadratic BPE would take minutes.
	word := strings.Repeat("qzxj", 50_000)
	ids := tok.Encode(word, EncodeOptions{})
	assert.Equal(t, word, tok.Decode(ids))
	assert.Less(t, len(ids), len(word))
}

func TestEncodeInvalidUTF8(t *testing.T) {
	tok := loadLlama3(t)
	text := "ok \xff\xfe bytes \xF0\x9F"
	assert.Equal(t, text, tok.Decode(tok.Encode(text, EncodeOptions{})), "invalid bytes round-trip through byte tokens")
}

func TestEncodeConcurrent(t *testing.T) {
	tok := loadLlama3(t)
	vectors := readJSONL[encodeVector](t, "vectors.jsonl")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(vectors); i += 4 {
				assert.Equal(t, vectors[i].IDsSpecial, tok.Encode(vectors[i].Text, EncodeOptions{Special: true}))
			}
		})
	}
	wg.Wait()
}
