package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/posttrain/posttrain/internal/fileio"
)

// TrainerStateFile is written last into a checkpoint directory: its presence, with a
// global_step equal to the directory's step, is what makes a checkpoint complete.
const TrainerStateFile = "trainer_state.json"

// Prefixes of directories inside an output directory.
const (
	checkpointPrefix = "checkpoint-"
	tempPrefix       = ".tmp-"
)

var checkpointDirRE = regexp.MustCompile(`^checkpoint-([0-9]+)$`)

// TrainerState is everything besides weights and optimizer moments that a resumed run needs
// to continue exactly. JSON names follow transformers' trainer_state.json where one exists.
type TrainerState struct {
	GlobalStep         int     `json:"global_step"`
	Epoch              float64 `json:"epoch"`
	MaxSteps           int     `json:"max_steps"`
	NumInputTokensSeen int64   `json:"num_input_tokens_seen"`
	// Sampler is the data sampler's cursor in its own format (datasets owns it).
	Sampler json.RawMessage `json:"sampler,omitempty"`
	// RNGStates holds each named RNG's MarshalBinary output ("dropout", "sampler", ...).
	RNGStates map[string][]byte `json:"rng_states,omitempty"`
	Schedule  *Schedule         `json:"schedule,omitempty"`
	// BestMetric and BestModelCheckpoint track the best eval metric seen so far.
	BestMetric          *float64 `json:"best_metric"`
	BestModelCheckpoint string   `json:"best_model_checkpoint,omitempty"`
	// LogHistory holds the logged metric records, each with its "step".
	LogHistory []map[string]float64 `json:"log_history"`
}

// SaveCheckpoint writes OUTPUT_DIR/checkpoint-STEP atomically and returns its path. write
// fills a temporary directory (model, tokenizer, optimizer state, ...); then the trainer state
// is written last as the completion marker, every file and directory is synced, and the
// temporary directory is renamed into place. An existing checkpoint of the same step is
// replaced. Afterwards the oldest complete checkpoints beyond keepLast are deleted (the new
// one is always kept); keepLast <= 0 keeps all. If anything fails, no checkpoint-STEP
// appears and the temporary directory is removed.
func SaveCheckpoint(outputDir string, state *TrainerState, write func(tmpDir string) error, keepLast int) (string, error) {
	step := state.GlobalStep
	if step < 0 {
		return "", fmt.Errorf("train: save checkpoint: negative step %d", step)
	}
	if err := os.MkdirAll(outputDir, 0o755); err != nil {
		return "", fmt.Errorf("train: save checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(outputDir, fmt.Sprintf("%scheckpoint-%d-", tempPrefix, step))
	if err != nil {
		return "", fmt.Errorf("train: save checkpoint %d: %w", step, err)
	}
	final := filepath.Join(outputDir, checkpointPrefix+strconv.Itoa(step))
	if err := fillCheckpoint(tmp, state, write); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("train: save checkpoint %s: %w", final, err)
	}
	if err := replaceDir(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("train: save checkpoint %s: %w", final, err)
	}
	if err := syncDir(outputDir); err != nil {
		return final, fmt.Errorf("train: save checkpoint %s: %w", final, err)
	}
	if err := rotateCheckpoints(outputDir, step, keepLast); err != nil {
		return final, err
	}
	return final, nil
}

// fillCheckpoint runs write, adds the marker and syncs everything in dir.
func fillCheckpoint(dir string, state *TrainerState, write func(string) error) error {
	if err := os.Chmod(dir, fileio.SharedDirMode()); err != nil { // MkdirTemp makes 0700
		return err
	}
	if err := write(dir); err != nil {
		return err
	}
	marker := filepath.Join(dir, TrainerStateFile)
	if _, err := os.Lstat(marker); err == nil {
		return fmt.Errorf("the write function created %s; SaveCheckpoint writes it last as the completion marker", TrainerStateFile)
	}
	data, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", TrainerStateFile, err)
	}
	if err := writeManifest(dir, map[string][]byte{TrainerStateFile: data}); err != nil {
		return err
	}
	if err := os.WriteFile(marker, data, 0o644); err != nil {
		return err
	}
	return syncTree(dir)
}

// replaceDir renames src to dst; an existing dst is first moved aside under a temporary
// name (so a crash in between leaves the old checkpoint or the new one, never neither
// without a .tmp- copy) and removed afterwards.
func replaceDir(src, dst string) error {
	if _, err := os.Lstat(dst); err != nil {
		return os.Rename(src, dst)
	}
	aside, err := os.MkdirTemp(filepath.Dir(dst), tempPrefix+"replaced-"+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	old := filepath.Join(aside, "old")
	if err := os.Rename(dst, old); err != nil {
		os.Remove(aside)
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		os.Rename(old, dst) // put the previous checkpoint back
		os.Remove(aside)
		return err
	}
	return os.RemoveAll(aside)
}

// syncTree fsyncs every regular file and directory under root, deepest first.
func syncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		if d.Type().IsRegular() {
			return syncFile(path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// ManifestFile lists the sha256 of every file of a checkpoint (the trainer
// state included); it is written just before the completion marker and checked
// before a run resumes from the checkpoint.
const ManifestFile = "manifest.json"

// ErrCorruptCheckpoint is wrapped when a checkpoint's files do not match its manifest.
var ErrCorruptCheckpoint = errors.New("train: damaged checkpoint")

// errNoManifest marks a checkpoint written before manifests existed.
var errNoManifest = errors.New("train: checkpoint has no " + ManifestFile)

// Manifest is the content of manifest.json.
type Manifest struct {
	Algorithm string `json:"algorithm"`
	// Files maps each file's slash-separated path inside the checkpoint to its hex digest.
	Files map[string]string `json:"files"`
}

// writeManifest hashes every regular file under dir, plus extra (files about
// to be written, by name and content), and writes dir/manifest.json.
func writeManifest(dir string, extra map[string][]byte) error {
	man := Manifest{Algorithm: "sha256", Files: map[string]string{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		sum, err := FileSHA256(path)
		if err != nil {
			return err
		}
		man.Files[filepath.ToSlash(rel)] = sum
		return nil
	})
	if err != nil {
		return fmt.Errorf("hash checkpoint files: %w", err)
	}
	for name, body := range extra {
		sum := sha256.Sum256(body)
		man.Files[name] = hex.EncodeToString(sum[:])
	}
	body, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), body, 0o644)
}

// FileSHA256 is the hex sha256 of a file's contents (checkpoint manifests,
// and the run record's input hashes).
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifyCheckpoint checks every file listed in dir's manifest against its
// sha256; the first missing or changed file is an error naming it.
func VerifyCheckpoint(dir string) error {
	path := filepath.Join(dir, ManifestFile)
	body, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", errNoManifest, dir)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorruptCheckpoint, err)
	}
	var man Manifest
	if err := json.Unmarshal(body, &man); err != nil || man.Algorithm != "sha256" || len(man.Files) == 0 {
		return fmt.Errorf("%w: %s is not a valid manifest (want {\"algorithm\": \"sha256\", \"files\": {...}})", ErrCorruptCheckpoint, path)
	}
	for _, name := range slices.Sorted(maps.Keys(man.Files)) {
		file := filepath.Join(dir, filepath.FromSlash(name))
		got, err := FileSHA256(file)
		if err != nil {
			return fmt.Errorf("%w: %s is listed in %s but cannot be read: %w", ErrCorruptCheckpoint, file, ManifestFile, err)
		}
		if got != man.Files[name] {
			return fmt.Errorf("%w: %s has sha256 %s, the manifest recorded %s (the file changed after it was saved)", ErrCorruptCheckpoint, file, got[:16]+"…", man.Files[name][:min(16, len(man.Files[name]))]+"…")
		}
	}
	return nil
}

// ResumePoint is the checkpoint a resumed run starts from.
type ResumePoint struct {
	Checkpoint
	// Unverified is set for a checkpoint without a manifest (written by an
	// older posttrain): its files could not be checked.
	Unverified bool
}

// FindResumeCheckpoint returns the newest checkpoint of outputDir after
// checking its files against its manifest; ok is false when there is none.
// A newest checkpoint that is damaged (a changed or missing file, an unreadable
// trainer state) is an error naming it: an older one is never taken silently
// instead. Directories without a marker and without a manifest are not
// checkpoints (never completed) and are passed over, as LatestCheckpoint does.
func FindResumeCheckpoint(outputDir string) (ResumePoint, bool, error) {
	cands, err := checkpointDirs(outputDir)
	if err != nil {
		return ResumePoint{}, false, err
	}
	slices.Reverse(cands) // newest first
	for i, c := range cands {
		_, markerErr := os.Lstat(filepath.Join(c.Dir, TrainerStateFile))
		_, manErr := os.Lstat(filepath.Join(c.Dir, ManifestFile))
		if markerErr != nil && manErr != nil {
			continue // never completed
		}
		damaged := func(err error) error {
			hint := "start over with --overwrite"
			if i+1 < len(cands) {
				hint = fmt.Sprintf("delete it to resume from an older checkpoint (%s), or start over with --overwrite", filepath.Base(cands[i+1].Dir))
			}
			return fmt.Errorf("checkpoint %s is damaged, so it is not resumed from: %w; %s", c.Dir, err, hint)
		}
		st, err := LoadTrainerState(c.Dir)
		if err != nil {
			return ResumePoint{}, false, damaged(fmt.Errorf("%w: %w", ErrCorruptCheckpoint, err))
		}
		if st.GlobalStep != c.Step {
			return ResumePoint{}, false, damaged(fmt.Errorf("%w: %s says global_step %d", ErrCorruptCheckpoint, TrainerStateFile, st.GlobalStep))
		}
		err = VerifyCheckpoint(c.Dir)
		if errors.Is(err, errNoManifest) {
			return ResumePoint{Checkpoint: c, Unverified: true}, true, nil
		}
		if err != nil {
			return ResumePoint{}, false, damaged(err)
		}
		return ResumePoint{Checkpoint: c}, true, nil
	}
	return ResumePoint{}, false, nil
}

// Checkpoint is one complete checkpoint directory.
type Checkpoint struct {
	Dir  string
	Step int
}

// ListCheckpoints returns the complete checkpoints in outputDir sorted by step. Temporary
// directories and checkpoint directories without a valid marker are left out. A missing
// outputDir has none.
func ListCheckpoints(outputDir string) ([]Checkpoint, error) {
	dirs, err := checkpointDirs(outputDir)
	if err != nil {
		return nil, err
	}
	cps := dirs[:0]
	for _, c := range dirs {
		if st, err := LoadTrainerState(c.Dir); err == nil && st.GlobalStep == c.Step {
			cps = append(cps, c)
		}
	}
	return cps, nil
}

// checkpointDirs returns the checkpoint-STEP directories of outputDir sorted
// by step, complete or not. A missing outputDir has none.
func checkpointDirs(outputDir string) ([]Checkpoint, error) {
	entries, err := os.ReadDir(outputDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: list checkpoints: %w", err)
	}
	var dirs []Checkpoint
	for _, e := range entries {
		m := checkpointDirRE.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		if step, err := strconv.Atoi(m[1]); err == nil {
			dirs = append(dirs, Checkpoint{Dir: filepath.Join(outputDir, e.Name()), Step: step})
		}
	}
	slices.SortFunc(dirs, func(a, b Checkpoint) int { return a.Step - b.Step })
	return dirs, nil
}

// LatestCheckpoint returns the complete checkpoint with the highest step; ok is false when
// outputDir holds none. A checkpoint half-written when the process was killed is never
// returned: it is either still a .tmp- directory or lacks its marker.
func LatestCheckpoint(outputDir string) (dir string, step int, ok bool, err error) {
	cps, err := ListCheckpoints(outputDir)
	if err != nil || len(cps) == 0 {
		return "", 0, false, err
	}
	last := cps[len(cps)-1]
	return last.Dir, last.Step, true, nil
}

// LoadTrainerState reads the trainer state of a checkpoint directory.
func LoadTrainerState(dir string) (*TrainerState, error) {
	path := filepath.Join(dir, TrainerStateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var st TrainerState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return &st, nil
}

// rotateCheckpoints deletes the oldest complete checkpoints so that at most keepLast remain,
// never the one just saved at step keep.
func rotateCheckpoints(outputDir string, keep, keepLast int) error {
	if keepLast <= 0 {
		return nil
	}
	cps, err := ListCheckpoints(outputDir)
	if err != nil {
		return err
	}
	others := slices.DeleteFunc(cps, func(c Checkpoint) bool { return c.Step == keep })
	excess := len(others) - (keepLast - 1)
	for _, c := range others[:max(0, excess)] {
		if err := removeCheckpoint(c.Dir); err != nil {
			return fmt.Errorf("train: delete old checkpoint: %w", err)
		}
	}
	return nil
}

// RemoveCheckpoint deletes a checkpoint directory safely (see removeCheckpoint).
func RemoveCheckpoint(dir string) error { return removeCheckpoint(dir) }

// removeCheckpoint renames dir to a .tmp- name before deleting it, so an interrupted delete
// leaves a temporary directory (cleaned by CleanStaleTemps), not a damaged checkpoint.
func removeCheckpoint(dir string) error {
	aside, err := os.MkdirTemp(filepath.Dir(dir), tempPrefix+"deleting-"+filepath.Base(dir)+"-")
	if err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(aside, "old")); err != nil {
		os.Remove(aside)
		return err
	}
	return os.RemoveAll(aside)
}

// CleanStaleTemps removes the .tmp-* directories that interrupted saves and deletes left in
// outputDir. Call it at start-up, before any checkpoint is being written.
func CleanStaleTemps(outputDir string) error {
	entries, err := os.ReadDir(outputDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: clean temporary checkpoints: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.RemoveAll(filepath.Join(outputDir, e.Name())); err != nil {
				return fmt.Errorf("train: clean temporary checkpoints: %w", err)
			}
		}
	}
	return nil
}
