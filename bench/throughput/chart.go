package main

import (
	"errors"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/adsync/adsync/bench/benchkit"
)

// chartPath is where the bench draws its passes, relative to the
// repository root that `make bench-throughput` runs in; CHART overrides it
// ("-" draws none).
const chartPath = "docs/img/throughput.svg"

// bar is one pass in the chart.
type bar struct {
	label                 string
	perSecond, workerCPU  float64 // per second; worker CPU µs per item
	postgresCPU, redisCPU float64 // µs per item
}

// chartBars are the passes to draw: the profiled pass is left out, since
// perf slows the workers it samples. It refuses to make a chart of nothing:
// no pass of adsync that saved a campaign, or a no-op pass of asynq that
// took no time (its rate would not be a number).
func chartBars(results []result, queue benchkit.QueuePhase) ([]bar, error) {
	var bars []bar
	for _, r := range results {
		if r.profileTop != "" || r.saved <= 0 || r.wall <= 0 {
			continue
		}
		bars = append(bars, bar{label: r.name, perSecond: r.perSecond(), workerCPU: micros(r.cpu.workers, r.saved),
			postgresCPU: micros(r.cpu.postgres, r.saved), redisCPU: micros(r.cpu.redis, r.saved)})
	}
	if len(bars) == 0 {
		return nil, errors.New("no pass of adsync saved a campaign: nothing to draw")
	}
	if queue.Tasks <= 0 || queue.Wall <= 0 {
		return nil, errors.New("asynq's no-op pass measured no tasks: nothing to draw it against")
	}
	return append(bars, bar{label: "asynq alone (no-op)", perSecond: queue.PerSecond(),
		workerCPU: micros(queue.Workers, queue.Tasks), redisCPU: micros(queue.Redis, queue.Tasks)}), nil
}

// writeChart draws two panels side by side as SVG: each pass's campaigns
// (asynq alone: tasks) per second, and the CPU each part spent per
// campaign.
func writeChart(path string, results []result, queue benchkit.QueuePhase) error {
	path = benchkit.EnvString("CHART", path)
	if path == "-" {
		return nil
	}
	bars, err := chartBars(results, queue)
	if err != nil {
		return err
	}
	names := make([]string, len(bars))
	rates := make(plotter.Values, len(bars))
	cpu := [3]plotter.Values{}
	for i, b := range bars {
		names[i], rates[i] = b.label, b.perSecond
		cpu[0], cpu[1], cpu[2] = append(cpu[0], b.workerCPU), append(cpu[1], b.postgresCPU), append(cpu[2], b.redisCPU)
	}

	left := plot.New()
	left.Title.Text = "Per second, passes of one run"
	left.Y.Label.Text = "campaigns/s (asynq alone: tasks/s)"
	rateBars, err := plotter.NewBarChart(rates, vg.Points(40))
	if err != nil {
		return err
	}
	rateBars.Color = color.RGBA{R: 70, G: 120, B: 180, A: 255}
	left.Add(rateBars, plotter.NewGrid())
	left.NominalX(names...)

	right := plot.New()
	right.Title.Text = "CPU per campaign (µs)"
	right.Y.Label.Text = "µs of CPU per campaign (per task)"
	colors := []color.Color{color.RGBA{R: 70, G: 120, B: 180, A: 255}, color.RGBA{R: 220, G: 140, B: 50, A: 255},
		color.RGBA{R: 190, G: 60, B: 60, A: 255}}
	w := vg.Points(14)
	for i, part := range []string{"workers", "PostgreSQL", "Redis"} {
		b, err := plotter.NewBarChart(cpu[i], w)
		if err != nil {
			return err
		}
		b.Color, b.Offset = colors[i], w*vg.Length(i-1)
		right.Add(b)
		right.Legend.Add(part, b)
	}
	right.Add(plotter.NewGrid())
	right.Legend.Top = true
	right.NominalX(names...)

	const width, height = 11 * vg.Inch, 4.5 * vg.Inch
	canvas := vgsvg.New(width, height)
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	cells := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(cells[0][0])
	right.Draw(cells[0][1])

	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.Create(filepath.Clean(path))
	if err != nil {
		return err
	}
	if _, err := canvas.WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
