package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/posttrain/posttrain/internal/fileio"
)

// Files Load reads from the tokenizer directory; the first two are required.
const (
	tokenizerFile        = "tokenizer.json"
	tokenizerConfigFile  = "tokenizer_config.json"
	specialTokensMapFile = "special_tokens_map.json"
	generationConfigFile = "generation_config.json"
	chatTemplateFile     = "chat_template.jinja"
)

// maxFileBytes bounds each file Load reads: Llama 3's tokenizer.json is 9 MB.
const maxFileBytes = 256 << 20

// Load reads tokenizer.json and tokenizer_config.json (and, where present,
// special_tokens_map.json, generation_config.json and chat_template.jinja) from
// dir. A tokenizer.json other than a Llama 3 style byte-level BPE gives an error
// wrapping ErrUnsupported.
func Load(dir string) (*Tokenizer, error) {
	files := make(map[string][]byte)
	for _, name := range []string{tokenizerFile, tokenizerConfigFile, specialTokensMapFile, generationConfigFile, chatTemplateFile} {
		// A FIFO or device here would block the read for ever; a huge file would exhaust memory.
		err := fileio.CheckRegular(filepath.Join(dir, name), maxFileBytes)
		var data []byte
		if err == nil {
			data, err = os.ReadFile(filepath.Join(dir, name))
		}
		if err != nil {
			required := name == tokenizerFile || name == tokenizerConfigFile
			if errors.Is(err, fs.ErrNotExist) && !required {
				continue
			}
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		files[name] = data
	}
	t, err := parseTokenizerJSON(files[tokenizerFile])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, tokenizerFile), err)
	}
	t.files = files
	if err := t.applyConfig(dir, files); err != nil {
		return nil, err
	}
	return t, nil
}

// tokenizerJSON is the part of tokenizer.json this package reads.
type tokenizerJSON struct {
	AddedTokens  []addedToken    `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Decoder      json.RawMessage `json:"decoder"`
	Model        bpeModelJSON    `json:"model"`
}

type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Special    bool   `json:"special"`
}

type bpeModelJSON struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	ContinuingSubwordPrefix string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         string          `json:"end_of_word_suffix"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   json.RawMessage `json:"vocab"`  // {"token": id, ...}, read by scanVocab
	Merges                  json.RawMessage `json:"merges"` // ["a b", ...] or [["a", "b"], ...], read by scanMerges
}

func parseTokenizerJSON(data []byte) (*Tokenizer, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("tokenizer: parse: %w", err)
	}
	if err := checkSupported(&tj); err != nil {
		return nil, err
	}
	t := &Tokenizer{
		ignoreMerges: tj.Model.IgnoreMerges,
		added:        make(map[string]int32, len(tj.AddedTokens)),
		specialTrie:  newLiteralTrie(),
		cache:        newPieceCache(),
		bos:          -1,
	}
	// Scan the merge list while the vocabulary is built: the two are the bulk
	// of Load's time and independent until the merges are resolved to ids.
	var pairs [][2]string
	var mergesErr error
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		pairs, mergesErr = scanMerges(tj.Model.Merges)
	}()
	vocabErr := t.buildVocab(tj.Model.Vocab, tj.AddedTokens)
	<-scanned
	if vocabErr != nil {
		return nil, vocabErr
	}
	if mergesErr != nil {
		return nil, fmt.Errorf("tokenizer: model.merges: %w", mergesErr)
	}
	if err := t.buildMerges(pairs); err != nil {
		return nil, err
	}
	return t, nil
}

// checkSupported rejects every tokenizer.json feature this package does not implement.
func checkSupported(tj *tokenizerJSON) error {
	m := &tj.Model
	switch {
	case m.Type != "BPE":
		return fmt.Errorf("%w: model.type is %q, want \"BPE\"", ErrUnsupported, m.Type)
	case m.Dropout != nil && *m.Dropout != 0:
		return fmt.Errorf("%w: model.dropout is %v, want null", ErrUnsupported, *m.Dropout)
	case m.ContinuingSubwordPrefix != "" || m.EndOfWordSuffix != "":
		return fmt.Errorf("%w: model.continuing_subword_prefix/end_of_word_suffix are set; byte-level BPE uses neither", ErrUnsupported)
	case m.ByteFallback:
		return fmt.Errorf("%w: model.byte_fallback is true (a SentencePiece-style BPE, not byte-level)", ErrUnsupported)
	case !isJSONNull(tj.Normalizer):
		return fmt.Errorf("%w: normalizer is %s, want null", ErrUnsupported, abbreviate(tj.Normalizer))
	}
	if err := checkPreTokenizer(tj.PreTokenizer); err != nil {
		return err
	}
	if !isJSONNull(tj.Decoder) {
		var d struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(tj.Decoder, &d); err != nil || d.Type != "ByteLevel" {
			return fmt.Errorf("%w: decoder is %s, want ByteLevel", ErrUnsupported, abbreviate(tj.Decoder))
		}
	}
	for _, a := range tj.AddedTokens {
		if a.SingleWord || a.LStrip || a.RStrip {
			return fmt.Errorf("%w: added token %q (id %d) uses single_word/lstrip/rstrip", ErrUnsupported, a.Content, a.ID)
		}
	}
	return nil
}

// checkPreTokenizer accepts exactly Llama 3's pre-tokenizer: a Split on the
// Llama 3 pattern (Isolated, not inverted) followed by ByteLevel without its
// own regex and without a prefix space.
func checkPreTokenizer(raw json.RawMessage) error {
	var seq struct {
		Type          string `json:"type"`
		PreTokenizers []struct {
			Type    string `json:"type"`
			Pattern struct {
				Regex  *string `json:"Regex"`
				String *string `json:"String"`
			} `json:"pattern"`
			Behavior       string `json:"behavior"`
			Invert         bool   `json:"invert"`
			AddPrefixSpace bool   `json:"add_prefix_space"`
			UseRegex       bool   `json:"use_regex"`
		} `json:"pretokenizers"`
	}
	unsupported := fmt.Errorf("%w: pre_tokenizer is %s; want Llama 3's Sequence of Split (pattern %q, Isolated) and ByteLevel (use_regex false, add_prefix_space false)",
		ErrUnsupported, abbreviate(raw), llama3SplitPattern)
	if err := json.Unmarshal(raw, &seq); err != nil || seq.Type != "Sequence" || len(seq.PreTokenizers) != 2 {
		return unsupported
	}
	split, byteLevel := seq.PreTokenizers[0], seq.PreTokenizers[1]
	if split.Type != "Split" || split.Pattern.Regex == nil || *split.Pattern.Regex != llama3SplitPattern ||
		split.Behavior != "Isolated" || split.Invert {
		return unsupported
	}
	if byteLevel.Type != "ByteLevel" || byteLevel.UseRegex || byteLevel.AddPrefixSpace {
		return unsupported
	}
	return nil
}

// MaxVocabID bounds token ids (exclusive): the model accepts vocab_size up to 2^22.
const MaxVocabID = 1 << 22

// buildVocab fills the id <-> bytes tables from the BPE vocabulary (byte-level
// strings) and the added tokens (literal text).
func (t *Tokenizer) buildVocab(rawVocab json.RawMessage, added []addedToken) error {
	vocab, err := scanVocab(rawVocab)
	if err != nil {
		return fmt.Errorf("tokenizer: model.vocab: %w", err)
	}
	// Ids index a table, so one absurd id (10^9) would allocate gigabytes.
	size := int32(0)
	for _, e := range vocab {
		if e.id >= MaxVocabID {
			return fmt.Errorf("tokenizer: model.vocab[%q] = %d is beyond the largest id accepted, %d (Llama 3 uses 128256 ids)", e.token, e.id, MaxVocabID-1)
		}
		size = max(size, e.id+1)
	}
	for _, a := range added {
		if a.ID >= MaxVocabID {
			return fmt.Errorf("tokenizer: added_tokens entry %q has id %d, beyond the largest id accepted, %d (Llama 3 uses 128256 ids)", a.Content, a.ID, MaxVocabID-1)
		}
		size = max(size, a.ID+1)
	}
	t.tokenBytes = make([][]byte, size)
	t.vocab = make(map[string]int32, len(vocab))
	// One backing array for all tokens: 128k small allocations would dominate Load.
	var arena []byte
	var buf []byte
	for _, e := range vocab {
		token, id := e.token, e.id
		if id < 0 {
			return fmt.Errorf("tokenizer: model.vocab[%q] = %d, want a non-negative id", token, id)
		}
		raw, ok := appendByteLevelDecoded(buf[:0], token)
		if !ok {
			return fmt.Errorf("%w: model.vocab token %q (id %d) is not byte-level encoded", ErrUnsupported, token, id)
		}
		buf = raw
		if len(arena)+len(raw) > cap(arena) {
			arena = make([]byte, 0, max(1<<16, len(raw)))
		}
		start := len(arena)
		arena = append(arena, raw...)
		t.tokenBytes[id] = arena[start:len(arena):len(arena)]
		t.vocab[string(raw)] = id
	}
	for b := range 256 {
		id, ok := t.vocab[string([]byte{byte(b)})]
		if !ok {
			return fmt.Errorf("%w: model.vocab has no token for byte 0x%02x (%q); byte-level BPE needs all 256", ErrUnsupported, b, string(byteToRune[b]))
		}
		t.byteID[b] = id
	}
	for _, a := range added {
		if a.ID < 0 || a.Content == "" {
			return fmt.Errorf("tokenizer: added_tokens entry %q with id %d: want non-empty content and a non-negative id", a.Content, a.ID)
		}
		t.tokenBytes[a.ID] = []byte(a.Content)
		t.added[a.Content] = a.ID
		t.specialTrie.add(a.Content, a.ID)
		if !a.Special {
			if t.textTrie == nil {
				t.textTrie = newLiteralTrie()
			}
			t.textTrie.add(a.Content, a.ID)
		}
	}
	return nil
}

// buildMerges turns the merge list (written in the byte-level alphabet) into
// the rank map over ids. Resolving 280k merges to ids is three vocabulary
// lookups each, mostly cache misses, so the list is resolved in parallel chunks
// and then inserted in rank order.
func (t *Tokenizer) buildMerges(pairs [][2]string) error {
	type resolved struct{ left, right, merged int32 }
	ids := make([]resolved, len(pairs))
	workers := min(runtime.GOMAXPROCS(0), 4)
	chunk := (len(pairs) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := min(w*chunk, len(pairs)), min((w+1)*chunk, len(pairs))
		wg.Go(func() {
			var buf []byte
			for rank := lo; rank < hi; rank++ {
				p := pairs[rank]
				var okL, okR bool
				buf, okL = appendByteLevelDecoded(buf[:0], p[0])
				split := len(buf)
				buf, okR = appendByteLevelDecoded(buf, p[1])
				if !okL || !okR {
					errs[w] = fmt.Errorf("%w: model.merges[%d] %q %q is not byte-level encoded", ErrUnsupported, rank, p[0], p[1])
					return
				}
				left, okL := t.vocab[string(buf[:split])]
				right, okR := t.vocab[string(buf[split:])]
				merged, okM := t.vocab[string(buf)]
				if !okL || !okR || !okM {
					errs[w] = fmt.Errorf("tokenizer: model.merges[%d] %q %q: token not in model.vocab", rank, p[0], p[1])
					return
				}
				ids[rank] = resolved{left, right, merged}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	t.merges = make(map[uint64]merge, len(ids))
	for rank, r := range ids {
		key := pairKey(r.left, r.right)
		if _, dup := t.merges[key]; !dup { // the first (lowest-rank) rule wins
			t.merges[key] = merge{rank: int32(rank), id: r.merged}
		}
	}
	return nil
}

func isJSONNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// abbreviate shortens a JSON value for an error message.
func abbreviate(raw json.RawMessage) string {
	const limit = 200
	s := string(bytes.TrimSpace(raw))
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
