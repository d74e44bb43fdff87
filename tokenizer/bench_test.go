package tokenizer

import (
	"os"
	"testing"
)

// benchCorpusEnv names a JSONL file whose lines have "text", to benchmark on;
// bench/tokenizer/run.sh sets it so that this benchmark and Hugging Face
// tokenizers encode the same documents. Without it the fixture vectors are used.
const benchCorpusEnv = "POSTTRAIN_TOKENIZER_CORPUS"

// BenchmarkEncode measures encode throughput (MB/s of UTF-8 input) with
// special-token parsing, Hugging Face's default. Run it on one core with
// -cpu 1 to compare with the single-threaded reference.
func BenchmarkEncode(b *testing.B) {
	tok := loadLlama3(b)
	var docs []string
	if path := os.Getenv(benchCorpusEnv); path != "" {
		type doc struct {
			Text string `json:"text"`
		}
		for _, d := range readJSONLFile[doc](b, path) {
			docs = append(docs, d.Text)
		}
	} else {
		for _, v := range readJSONL[encodeVector](b, "vectors.jsonl") {
			docs = append(docs, v.Text)
		}
	}
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	for _, mode := range []struct {
		name        string
		withOffsets bool
	}{{"ids", false}, {"offsets", true}} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetBytes(int64(total))
			tokens := 0
			for b.Loop() {
				tokens = 0
				for _, d := range docs {
					if mode.withOffsets {
						ids, _ := tok.EncodeWithOffsets(d, EncodeOptions{Special: true})
						tokens += len(ids)
					} else {
						tokens += len(tok.Encode(d, EncodeOptions{Special: true}))
					}
				}
			}
			b.ReportMetric(float64(tokens), "tokens/op")
		})
	}
}
