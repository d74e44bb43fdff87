package dpo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/posttrain/posttrain/model"
)

// reference supplies the frozen reference model's summed completion log-probs.
type reference interface {
	// logps returns [P] chosen and rejected log-probs for pairs, which are the
	// examples at idx of split ("train" or "eval").
	logps(split string, idx []int, pairs []Pair) (chosen, rejected []float64, err error)
}

// modelReference runs a reference model per batch. With lora set, m is the
// policy itself and the reference is its base weights with the adapter
// switched off, so no second copy of the weights exists.
type modelReference struct {
	m     *model.Model
	lora  *model.LoRA
	padID int32
}

func (r *modelReference) logps(_ string, _ []int, pairs []Pair) ([]float64, []float64, error) {
	if r.lora != nil {
		r.lora.SetEnabled(false)
		defer r.lora.SetEnabled(true)
	}
	b, err := concatenated(pairs, r.padID)
	if err != nil {
		return nil, nil, err
	}
	st, err := forwardRows(r.m, b, false)
	if err != nil {
		return nil, nil, fmt.Errorf("reference forward: %w", err)
	}
	P := len(pairs)
	return st.logp[:P], st.logp[P:], nil
}

// referenceCache is the reference's log-probs over a whole data set, computed
// once before training (TRL's precompute_ref_log_probs) and kept on disk in
// the output directory, so the reference model is freed before the first step
// and a resumed run does not recompute it.
type referenceCache struct {
	// Fingerprint identifies the reference and the tokenised data the values
	// belong to; a cache with another fingerprint is recomputed.
	Fingerprint string                `json:"fingerprint"`
	Splits      map[string]splitLogps `json:"splits"`
}

// splitLogps are [examples] log-probs in data-set order.
type splitLogps struct {
	Chosen   []float64 `json:"chosen"`
	Rejected []float64 `json:"rejected"`
}

func (c *referenceCache) logps(split string, idx []int, pairs []Pair) ([]float64, []float64, error) {
	s, ok := c.Splits[split]
	if !ok {
		return nil, nil, fmt.Errorf("dpo: reference cache has no %q split", split)
	}
	chosen, rejected := make([]float64, len(idx)), make([]float64, len(idx))
	for i, j := range idx {
		if j < 0 || j >= len(s.Chosen) || j >= len(s.Rejected) {
			return nil, nil, fmt.Errorf("dpo: reference cache split %q has %d examples, asked for example %d", split, len(s.Chosen), j)
		}
		chosen[i], rejected[i] = s.Chosen[j], s.Rejected[j]
	}
	return chosen, rejected, nil
}

// precompute scores every split with ref, batchSize pairs at a time.
func precompute(ref reference, splits map[string][]Pair, batchSize int, fingerprint string) (*referenceCache, error) {
	c := &referenceCache{Fingerprint: fingerprint, Splits: map[string]splitLogps{}}
	for name, pairs := range splits {
		var s splitLogps
		for lo := 0; lo < len(pairs); lo += batchSize {
			hi := min(lo+batchSize, len(pairs))
			ch, rj, err := ref.logps(name, nil, pairs[lo:hi])
			if err != nil {
				return nil, fmt.Errorf("precomputing reference log-probs (%s examples %d..%d): %w", name, lo, hi-1, err)
			}
			s.Chosen, s.Rejected = append(s.Chosen, ch...), append(s.Rejected, rj...)
		}
		c.Splits[name] = s
	}
	return c, nil
}

// loadReferenceCache reads path; ok is false when it is missing or was made
// for another fingerprint.
func loadReferenceCache(path, fingerprint string) (c *referenceCache, ok bool, err error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reference cache: %w", err)
	}
	c = &referenceCache{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, false, fmt.Errorf("reference cache %s: %w (delete it to recompute)", path, err)
	}
	return c, c.Fingerprint == fingerprint, nil
}

// save writes the cache atomically. JSON keeps float64 values exactly.
func (c *referenceCache) save(path string) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return model.WriteFileAtomic(path, data)
}

// fingerprint hashes the reference's identity and every split's token ids.
func fingerprint(refID string, splits map[string][]Pair) string {
	h := sha256.New()
	h.Write([]byte(refID))
	for _, name := range []string{"train", "eval"} {
		h.Write([]byte{0})
		h.Write([]byte(name))
		for _, p := range splits[name] {
			for _, seq := range [][]int32{p.Prompt, p.Chosen, p.Rejected} {
				_ = binary.Write(h, binary.LittleEndian, int32(len(seq)))
				_ = binary.Write(h, binary.LittleEndian, seq)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
