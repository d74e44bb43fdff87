package train

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// PlotMetrics draws one PNG per metric in the JSONL log at jsonlPath into outDir (created if
// needed), step on the x axis, and returns the files written, sorted. The loss plot also shows
// eval_loss when the log has it. Metrics without any finite value are skipped.
func PlotMetrics(jsonlPath, outDir string) ([]string, error) {
	records, err := ReadMetrics(jsonlPath)
	if err != nil {
		return nil, err
	}
	series := map[string]plotter.XYs{}
	for _, rec := range records {
		for k, v := range rec.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				series[k] = append(series[k], plotter.XY{X: float64(rec.Step), Y: v})
			}
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: plot metrics: %w", err)
	}
	var files []string
	for _, name := range slices.Sorted(maps.Keys(series)) {
		lines := []string{name}
		if name == MetricLoss && len(series[EvalPrefix+MetricLoss]) > 0 {
			lines = append(lines, EvalPrefix+MetricLoss)
		}
		path := filepath.Join(outDir, plotFileName(name))
		if err := plotSeries(path, name, lines, series); err != nil {
			return files, fmt.Errorf("train: plot %s: %w", name, err)
		}
		files = append(files, path)
	}
	return files, nil
}

func plotSeries(path, title string, names []string, series map[string]plotter.XYs) (err error) {
	// gonum/plot panics on axis ranges it cannot tick; a plot is a by-product
	// of a run, so that becomes an error rather than a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot draw the series: %v", r)
		}
	}()
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Add(plotter.NewGrid())
	p.Legend.Top = true // losses fall, so the top right is usually empty
	for i, name := range names {
		pts := series[name]
		slices.SortFunc(pts, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		color := plotColors[i%len(plotColors)]
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = color
		p.Add(line)
		if len(pts) <= maxMarkedPoints {
			points, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			points.Color, points.Radius = color, vg.Points(2)
			p.Add(points)
		}
		if len(names) > 1 {
			p.Legend.Add(name, line)
		}
	}
	padFlatRange(&p.Y, names, series)
	return p.Save(8*vg.Inch, 4*vg.Inch, path)
}

// padFlatRange widens a y range too narrow for float64 ticks (a constant
// series, or one so large that its spread is below its precision), which
// gonum/plot cannot tick.
func padFlatRange(ax *plot.Axis, names []string, series map[string]plotter.XYs) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, n := range names {
		for _, pt := range series[n] {
			lo, hi = min(lo, pt.Y), max(hi, pt.Y)
		}
	}
	if lo > hi {
		return
	}
	if pad := max(1, math.Abs(hi)) * 1e-6; hi-lo < pad {
		ax.Min, ax.Max = lo-pad, hi+pad
	}
}

// maxMarkedPoints is the most points a series may have and still get a marker on each (a
// single eval point would otherwise be invisible).
const maxMarkedPoints = 50

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// plotFileName turns a metric name into a file name: "rewards/chosen" -> "rewards_chosen.png".
func plotFileName(metric string) string {
	return strings.Trim(unsafeFileChars.ReplaceAllString(metric, "_"), "_.") + ".png"
}

// plotColors are the series colours of a plot, in order (train, then eval).
var plotColors = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
}
