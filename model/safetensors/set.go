package safetensors

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/posttrain/posttrain/internal/fileio"
)

// File names of a Hugging Face model directory's weights.
const (
	singleFileName = "model.safetensors"
	indexFileName  = "model.safetensors.index.json"
)

// Set is a model directory's weights: either DIR/model.safetensors or the
// shards named by DIR/model.safetensors.index.json. Like transformers,
// OpenDir prefers model.safetensors when both exist.
type Set struct {
	Dir string

	files []*File
	owner map[string]*File // tensor name -> the file holding it
	names []string         // sorted
}

// OpenDir opens the weights of the model directory dir and validates them
// (for a sharded model: the index, every shard, and that each weight is in
// the shard the index names and in no other).
func OpenDir(dir string) (*Set, error) {
	single := filepath.Join(dir, singleFileName)
	_, err := os.Stat(single)
	switch {
	case err == nil:
		f, err := Open(single)
		if err != nil {
			return nil, err
		}
		s := &Set{Dir: dir, files: []*File{f}, owner: map[string]*File{}, names: f.Names()}
		for _, name := range s.names {
			s.owner[name] = f
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return openSharded(dir)
}

func openSharded(dir string) (*Set, error) {
	indexPath := filepath.Join(dir, indexFileName)
	err := fileio.CheckRegular(indexPath, 64<<20) // a FIFO would block the read; real indexes are ~100 KiB
	var raw []byte
	if err == nil {
		raw, err = os.ReadFile(indexPath)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("safetensors: %s has neither %s nor %s: %w", dir, singleFileName, indexFileName, err)
	}
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	weightMap, err := parseIndex(indexPath, raw)
	if err != nil {
		return nil, err
	}

	s := &Set{Dir: dir, owner: make(map[string]*File, len(weightMap))}
	shards := map[string]*File{} // shard file name -> opened file
	for _, w := range weightMap {
		if _, done := shards[w.shard]; done {
			continue
		}
		f, err := Open(filepath.Join(dir, w.shard))
		if errors.Is(err, fs.ErrNotExist) {
			s.Close()
			return nil, fmt.Errorf("%w: %s: shard %q (holding tensor %q) is missing: %w", ErrBadIndex, indexPath, w.shard, w.tensor, err)
		}
		if err != nil {
			s.Close()
			return nil, err
		}
		shards[w.shard] = f
		s.files = append(s.files, f)
	}
	if err := checkShardContents(indexPath, weightMap, shards, s.files); err != nil {
		s.Close()
		return nil, err
	}
	for _, w := range weightMap {
		s.owner[w.tensor] = shards[w.shard]
		s.names = append(s.names, w.tensor)
	}
	slices.Sort(s.names)
	return s, nil
}

// weightEntry is one "tensor": "shard file" pair of an index's weight_map.
type weightEntry struct{ tensor, shard string }

// parseIndex decodes {"metadata": {...}, "weight_map": {tensor: shard}} and
// checks every shard name stays inside the model directory.
func parseIndex(indexPath string, raw []byte) ([]weightEntry, error) {
	top, err := decodeObject(raw)
	if err != nil {
		return nil, badIndex(indexPath, "%v", err)
	}
	var weightMapRaw []byte
	for _, m := range top {
		if m.Key == "weight_map" {
			weightMapRaw = m.Value
		}
	}
	if weightMapRaw == nil {
		return nil, badIndex(indexPath, `field "weight_map" is missing`)
	}
	if kind := jsonKind(weightMapRaw); kind != "an object" {
		return nil, badIndex(indexPath, "weight_map is %s, want an object of tensor name to shard file", kind)
	}
	members, err := decodeObject(weightMapRaw)
	if err != nil {
		// A key given twice maps one tensor to two shards.
		return nil, badIndex(indexPath, "weight_map: %v", err)
	}
	entries := make([]weightEntry, 0, len(members))
	for _, m := range members {
		shard, err := decodeString(m.Value)
		if err != nil {
			return nil, badIndex(indexPath, "weight_map[%q]: %v", m.Key, err)
		}
		if err := checkShardName(shard); err != nil {
			return nil, badIndex(indexPath, "weight_map[%q]: shard file %q %v", m.Key, shard, err)
		}
		entries = append(entries, weightEntry{tensor: m.Key, shard: shard})
	}
	return entries, nil
}

// checkShardName accepts only a plain file name inside the model directory:
// an index from the internet must not make us open /etc/passwd or ../x.
func checkShardName(name string) error {
	switch {
	case name == "" || name == ".":
		return errors.New("is not a file name")
	case filepath.IsAbs(name) || strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`):
		return errors.New("is an absolute path, want a file name in the model directory")
	case strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, os.PathSeparator):
		return errors.New("contains a path separator, want a file name in the model directory")
	case strings.Contains(name, ".."):
		return errors.New(`contains "..", want a file name in the model directory`)
	case !filepath.IsLocal(name):
		return errors.New("leaves the model directory")
	}
	return nil
}

// checkShardContents checks that each weight is in the shard the index names
// and that no tensor is stored in two shards.
func checkShardContents(indexPath string, weightMap []weightEntry, shards map[string]*File, files []*File) error {
	for _, w := range weightMap {
		if _, ok := shards[w.shard].tensors[w.tensor]; !ok {
			return badIndex(indexPath, "tensor %q is mapped to %s, which does not contain it", w.tensor, w.shard)
		}
	}
	holder := map[string]*File{}
	for _, f := range files {
		for _, name := range f.names {
			if other, ok := holder[name]; ok {
				return badIndex(indexPath, "tensor %q is stored in two shards: %s and %s", name, other.Path, f.Path)
			}
			holder[name] = f
		}
	}
	return nil
}

// Names returns the tensor names of the set, sorted.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Info describes the named tensor and gives the path of the file holding it.
func (s *Set) Info(name string) (TensorInfo, string, bool) {
	f, ok := s.owner[name]
	if !ok {
		return TensorInfo{}, "", false
	}
	info, _ := f.Info(name)
	return info, f.Path, true
}

// Float32 reads the named tensor as float32 (see File.Float32).
func (s *Set) Float32(name string) ([]float32, []int, error) {
	f, ok := s.owner[name]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s: %q", ErrNotFound, s.Dir, name)
	}
	return f.Float32(name)
}

// Close closes every file of the set.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
