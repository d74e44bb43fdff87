package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// WriteDir writes tensors into dir (created if missing) the way transformers'
// save_pretrained does: one model.safetensors when the total tensor data fits
// in maxShardBytes (<= 0 means never shard), otherwise shards
// model-00001-of-0000N.safetensors filled in order up to maxShardBytes (a
// tensor larger than that gets a shard of its own) plus
// model.safetensors.index.json with metadata.total_size and the weight_map.
//
// Each file is written atomically. Weight files from an earlier save that the
// new one does not use are removed only after the new files are in place, so
// an interrupted save leaves a loadable directory: transformers (and OpenDir)
// prefer model.safetensors, which is either the old complete file or the new
// one. Re-saving with the same shard count replaces shards one by one; that
// window is not covered.
func WriteDir(dir string, tensors []Tensor, metadata map[string]string, dtype DType, maxShardBytes int64) error {
	if err := checkTensors(tensors, dtype); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	shards, total := planShards(tensors, dtype, maxShardBytes)
	if len(shards) <= 1 {
		if err := Write(filepath.Join(dir, singleFileName), tensors, metadata, dtype); err != nil {
			return err
		}
		return removeStaleWeights(dir, map[string]bool{singleFileName: true})
	}

	keep := map[string]bool{indexFileName: true}
	weightMap := make(map[string]string, len(tensors))
	for i, shard := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		if err := Write(filepath.Join(dir, name), shard, metadata, dtype); err != nil {
			return err
		}
		keep[name] = true
		for _, t := range shard {
			weightMap[t.Name] = name
		}
	}
	if err := writeIndex(filepath.Join(dir, indexFileName), total, weightMap); err != nil {
		return err
	}
	return removeStaleWeights(dir, keep)
}

// planShards splits tensors, in order, into shards of at most maxShardBytes
// of data each (one shard when maxShardBytes <= 0 or everything fits) and
// returns the total data size.
func planShards(tensors []Tensor, dtype DType, maxShardBytes int64) ([][]Tensor, int64) {
	var total int64
	for _, t := range tensors {
		total += dataBytes(t, dtype)
	}
	if maxShardBytes <= 0 || total <= maxShardBytes {
		return [][]Tensor{tensors}, total
	}
	var shards [][]Tensor
	var cur []Tensor
	var curBytes int64
	for _, t := range tensors {
		size := dataBytes(t, dtype)
		if len(cur) > 0 && curBytes+size > maxShardBytes {
			shards = append(shards, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, t)
		curBytes += size
	}
	return append(shards, cur), total
}

// indexFile is model.safetensors.index.json as transformers writes it.
type indexFile struct {
	Metadata  indexMetadata     `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

type indexMetadata struct {
	TotalSize int64 `json:"total_size"`
}

// writeIndex writes the index with sorted keys and 2-space indent, like
// transformers' json.dumps(index, indent=2, sort_keys=True).
func writeIndex(path string, totalSize int64, weightMap map[string]string) error {
	body, err := json.MarshalIndent(indexFile{Metadata: indexMetadata{TotalSize: totalSize}, WeightMap: weightMap}, "", "  ")
	if err != nil {
		return fmt.Errorf("safetensors: encoding %s: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(body, '\n'))
		return err
	})
}

// weightFileName matches the files a save writes: model.safetensors, its
// index and model-NNNNN-of-NNNNN.safetensors shards. Nothing else in the
// directory (config, tokenizer, adapters) is ever removed.
var weightFileName = regexp.MustCompile(`^(model\.safetensors|model\.safetensors\.index\.json|model-\d+-of-\d+\.safetensors)$`)

// removeStaleWeights removes weight files of an earlier save that are not in keep.
func removeStaleWeights(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("safetensors: removing stale weights: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if keep[e.Name()] || !weightFileName.MatchString(e.Name()) || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("safetensors: removing stale weights: %w", err))
		}
	}
	if err := syncDir(dir); err != nil {
		errs = append(errs, fmt.Errorf("safetensors: syncing %s: %w", dir, err))
	}
	return errors.Join(errs...)
}
