package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/posttrain/posttrain/internal/fileio"
)

// MetricsFile is the metrics log's name inside an output directory.
const MetricsFile = "metrics.jsonl"

// Metric names the loops log; evaluation metrics are EvalPrefix + name (eval_loss, ...), as
// in transformers.
const (
	MetricLoss       = "loss"
	MetricLR         = "lr"
	MetricGradNorm   = "grad_norm"
	MetricTokensPerS = "tokens_per_s"
	MetricEpoch      = "epoch"
	// MetricSkippedNonfinite counts the steps skipped so far for a non-finite
	// loss or gradient norm (train.skip_nonfinite_steps).
	MetricSkippedNonfinite = "skipped_nonfinite"
	EvalPrefix             = "eval_"
)

// MetricsRecord is one line of the metrics log.
type MetricsRecord struct {
	Step   int
	Values map[string]float64
}

// MetricsLog appends one JSON object per line to a file: {"step": N, "loss": ..., ...}.
// Each line is written with a single write, so a crash can tear at most the last line.
type MetricsLog struct {
	f    *os.File
	path string
}

// OpenMetricsLog opens the log at path for a run starting after resumeStep completed steps.
// resumeStep 0 starts afresh (an existing file is truncated); resumeStep > 0 keeps the
// records with step <= resumeStep and drops the rest, which a run killed after its last
// checkpoint had logged and the resumed run will log again.
func OpenMetricsLog(path string, resumeStep int) (*MetricsLog, error) {
	if resumeStep > 0 {
		if err := truncateMetrics(path, resumeStep); err != nil {
			return nil, err
		}
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if resumeStep <= 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: open metrics log: %w", err)
	}
	return &MetricsLog{f: f, path: path}, nil
}

// Log appends a record. Non-finite values are written as null (JSON has no NaN).
func (l *MetricsLog) Log(step int, values map[string]float64) error {
	if _, err := l.f.Write(encodeRecord(step, values)); err != nil {
		return fmt.Errorf("train: write %s: %w", l.path, err)
	}
	return nil
}

// Close closes the file.
func (l *MetricsLog) Close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("train: close %s: %w", l.path, err)
	}
	return nil
}

// encodeRecord writes step first, then the other keys sorted, and a newline.
func encodeRecord(step int, values map[string]float64) []byte {
	var b bytes.Buffer
	b.WriteString(`{"step":`)
	b.WriteString(strconv.Itoa(step))
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if k == "step" {
			continue
		}
		name, _ := json.Marshal(k)
		b.WriteByte(',')
		b.Write(name)
		b.WriteByte(':')
		if v := values[k]; math.IsNaN(v) || math.IsInf(v, 0) {
			b.WriteString("null")
		} else {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// ReadMetrics reads a metrics log. Null values come back as NaN. A torn last line (the
// process was killed while writing it) is skipped; a bad line elsewhere is an error.
func ReadMetrics(path string) ([]MetricsRecord, error) {
	records, _, err := readMetricLines(path)
	return records, err
}

// readMetricLines also returns each record's raw line (with its newline), so truncation
// rewrites kept lines byte for byte.
func readMetricLines(path string) ([]MetricsRecord, [][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("train: read metrics: %w", err)
	}
	lines := bytes.Split(data, []byte("\n"))
	var records []MetricsRecord
	var raw [][]byte
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := decodeRecord(line)
		if err != nil {
			// Every record ends in a newline, so only a torn write leaves a last line without one.
			if i == len(lines)-1 {
				break
			}
			return nil, nil, fmt.Errorf("train: %s:%d: %w", path, i+1, err)
		}
		records = append(records, rec)
		raw = append(raw, append(slices.Clone(line), '\n'))
	}
	return records, raw, nil
}

func decodeRecord(line []byte) (MetricsRecord, error) {
	var obj map[string]*float64
	if err := json.Unmarshal(line, &obj); err != nil {
		return MetricsRecord{}, err
	}
	step, ok := obj["step"]
	if !ok || step == nil || *step != math.Trunc(*step) {
		return MetricsRecord{}, errors.New(`record has no integer "step"`)
	}
	rec := MetricsRecord{Step: int(*step), Values: make(map[string]float64, len(obj)-1)}
	for k, v := range obj {
		switch {
		case k == "step":
		case v == nil:
			rec.Values[k] = math.NaN()
		default:
			rec.Values[k] = *v
		}
	}
	return rec, nil
}

// truncateMetrics rewrites path without the records whose step is after resumeStep,
// through a temporary file renamed over the original.
func truncateMetrics(path string, resumeStep int) error {
	records, raw, err := readMetricLines(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept bytes.Buffer
	for i, rec := range records {
		if rec.Step <= resumeStep {
			kept.Write(raw[i])
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("train: truncate metrics: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(fileio.SharedMode()); err != nil { // CreateTemp makes 0600; metrics.jsonl was 0644
		tmp.Close()
		return fmt.Errorf("train: truncate metrics: %w", err)
	}
	if _, err := tmp.Write(kept.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("train: truncate metrics: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("train: truncate metrics: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("train: truncate metrics: %w", err)
	}
	return nil
}
