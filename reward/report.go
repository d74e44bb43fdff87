package reward

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/posttrain/posttrain/model"
)

// Files WriteEvaluation writes.
const (
	EvalMetricsFile   = "eval_metrics.json"
	EvalPairsFile     = "eval_pairs.jsonl"
	EvalHistogramFile = "reward_histogram.png"
)

// WriteEvaluation writes the metrics (JSON), one JSONL line per pair with both
// rewards, and a PNG histogram of chosen vs rejected rewards into dir.
func WriteEvaluation(dir string, ev *Evaluation) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reward: evaluation output: %w", err)
	}
	body, err := json.MarshalIndent(ev.Metrics, "", "  ")
	if err != nil {
		return err
	}
	if err := model.WriteFileAtomic(filepath.Join(dir, EvalMetricsFile), append(body, '\n')); err != nil {
		return err
	}
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	for _, p := range ev.Pairs {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	if err := model.WriteFileAtomic(filepath.Join(dir, EvalPairsFile), lines.Bytes()); err != nil {
		return err
	}
	return plotHistogram(filepath.Join(dir, EvalHistogramFile), ev.Pairs)
}

// histogramBins is the number of bins shared by the chosen and rejected histograms.
const histogramBins = 30

// plotHistogram draws the chosen and rejected reward distributions over the
// same bins, so their overlap shows how well the model separates them.
func plotHistogram(path string, pairs []PairResult) error {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pairs {
		lo, hi = min(lo, p.Chosen, p.Rejected), max(hi, p.Chosen, p.Rejected)
	}
	if !(hi > lo) { // one value, or none: give the bins a width
		lo, hi = lo-0.5, lo+0.5
	}
	width := (hi - lo) / histogramBins
	counts := func(rewardOf func(PairResult) float64) []plotter.HistogramBin {
		bins := make([]plotter.HistogramBin, histogramBins)
		for i := range bins {
			bins[i].Min, bins[i].Max = lo+float64(i)*width, lo+float64(i+1)*width
		}
		for _, p := range pairs {
			i := min(int((rewardOf(p)-lo)/width), histogramBins-1)
			bins[max(i, 0)].Weight++
		}
		return bins
	}
	p := plot.New()
	p.Title.Text = "rewards on held-out pairs"
	p.X.Label.Text = "reward"
	p.Y.Label.Text = "pairs"
	p.Legend.Top = true
	for _, series := range []struct {
		name   string
		reward func(PairResult) float64
		fill   color.Color
	}{
		{"chosen", func(p PairResult) float64 { return p.Chosen }, color.NRGBA{R: 40, G: 120, B: 200, A: 140}},
		{"rejected", func(p PairResult) float64 { return p.Rejected }, color.NRGBA{R: 220, G: 80, B: 40, A: 140}},
	} {
		h := &plotter.Histogram{Bins: counts(series.reward), Width: width, FillColor: series.fill}
		h.LineStyle.Width = vg.Length(0.5)
		h.LineStyle.Color = series.fill
		p.Add(h)
		p.Legend.Add(series.name, h)
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("reward: histogram %s: %w", path, err)
	}
	return nil
}
