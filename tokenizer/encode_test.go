package tokenizer

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
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
