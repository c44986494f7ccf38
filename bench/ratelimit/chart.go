package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The colours and glyphs of each outcome, so a refusal stands out.
var outcomeStyle = map[string]draw.GlyphStyle{
	outcomeOK:       {Color: color.RGBA{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff}, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}},
	outcomeFailed:   {Color: color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff}, Radius: vg.Points(3.5), Shape: draw.TriangleGlyph{}},
	outcomeNoAnswer: {Color: color.RGBA{R: 0x75, G: 0x70, B: 0xb3, A: 0xff}, Radius: vg.Points(3.5), Shape: draw.CrossGlyph{}},
	outcomeRefused:  {Color: color.RGBA{R: 0xe7, G: 0x00, B: 0x00, A: 0xff}, Radius: vg.Points(5), Shape: draw.SquareGlyph{}},
}

// The legend's order of the outcomes; other answers come last.
var outcomeOrder = []string{outcomeOK, outcomeFailed, outcomeNoAnswer, outcomeRefused}

// writeChart draws, one panel per client, every request the mock received
// over time at the height of the number of requests in the sliding window
// that ends at it, the step line of that count, and the limit: the limiter
// works when the line reaches the limit often and never crosses it. The
// chart is written to path, an SVG or a PNG after its extension.
func writeChart(path string, arrivals []arrival, clients []string, limit int, window time.Duration, scale int) error {
	if len(arrivals) == 0 {
		return fmt.Errorf("chart: no request of clients %v was recorded", clients)
	}
	t0 := arrivals[0].at
	for _, a := range arrivals {
		if a.at.Before(t0) {
			t0 = a.at
		}
	}
	end := 0.0 // one time axis for every panel, so they line up
	for _, a := range arrivals {
		end = max(end, a.at.Sub(t0).Seconds()+window.Seconds())
	}
	plots := make([][]*plot.Plot, len(clients))
	for i, c := range clients {
		p, err := clientPanel(c, arrivalsOf(arrivals, c), t0, limit, window, scale)
		if err != nil {
			return err
		}
		p.X.Min, p.X.Max = 0, end
		if i == 0 {
			p.Legend.Top = true
			p.Legend.Left = false
		} else {
			p.Legend = plot.NewLegend()
		}
		plots[i] = []*plot.Plot{p}
	}
	const width = 10 * vg.Inch
	height := vg.Length(len(clients)) * 3 * vg.Inch
	var canvas vg.CanvasWriterTo
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg":
		canvas = vgsvg.New(width, height)
	case ".png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.New(width, height)}
	default:
		return fmt.Errorf("chart: %s: the file must end in .svg or .png", path)
	}
	tiles := draw.Tiles{Rows: len(clients), Cols: 1, PadY: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	for i, c := range plot.Align(plots, tiles, draw.New(canvas)) {
		plots[i][0].Draw(c[0])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	f, err := os.Create(path) // #nosec G304 -- the path is the operator's CHART variable
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := canvas.WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("chart: write %s: %w", path, err)
	}
	return f.Close()
}

// arrivalsOf returns the arrivals of one client in time order.
func arrivalsOf(all []arrival, client string) []arrival {
	var out []arrival
	for _, a := range all {
		if a.client == client {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// clientPanel is one client's panel of the chart.
func clientPanel(client string, arrivals []arrival, t0 time.Time, limit int, window time.Duration, scale int) (*plot.Plot, error) {
	p := plot.New()
	refused := 0
	for _, a := range arrivals {
		if a.outcome == outcomeRefused {
			refused++
		}
	}
	p.Title.Text = fmt.Sprintf("%s: %d requests, %d refused (429), at most %d in any %s window (time scale %d: %s is one platform minute)",
		client, len(arrivals), refused, maxInWindow(arrivals, window), window, scale, window)
	p.X.Label.Text = "seconds since the first request"
	p.Y.Label.Text = "requests in the window"
	// Room above the limit for the legend, which must not hide a request.
	p.Y.Min, p.Y.Max = 0, float64(limit)*1.6
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Legend.Padding = vg.Points(1)

	step, err := plotter.NewLine(windowSteps(arrivals, t0, window))
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", client, err)
	}
	step.StepStyle = plotter.PostStep
	step.Color = color.Gray{Y: 0x80}
	p.Add(step)
	p.Legend.Add(fmt.Sprintf("requests in the last %s", window), step)

	last := 0.0
	if len(arrivals) > 0 {
		last = arrivals[len(arrivals)-1].at.Sub(t0).Seconds()
	}
	bound, err := plotter.NewLine(plotter.XYs{{X: 0, Y: float64(limit)}, {X: last + window.Seconds(), Y: float64(limit)}})
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", client, err)
	}
	bound.Color = color.RGBA{R: 0xe7, A: 0xff}
	bound.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	p.Add(bound)
	p.Legend.Add(fmt.Sprintf("the platform's limit: %d per window", limit), bound)

	heights := inWindow(arrivals, window)
	byOutcome := map[string]plotter.XYs{}
	for i, a := range arrivals {
		byOutcome[a.outcome] = append(byOutcome[a.outcome], plotter.XY{X: a.at.Sub(t0).Seconds(), Y: float64(heights[i])})
	}
	for _, o := range append(outcomeOrder, otherOutcomes(byOutcome)...) {
		pts := byOutcome[o]
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", client, err)
		}
		if style, ok := outcomeStyle[o]; ok {
			sc.GlyphStyle = style
		}
		if len(pts) > 0 { // an empty scatter has no data range
			p.Add(sc)
			p.Legend.Add(o, sc)
		}
	}
	return p, nil
}

// otherOutcomes are the outcomes with no style of their own, in name order.
func otherOutcomes(byOutcome map[string]plotter.XYs) []string {
	var out []string
	for o := range byOutcome {
		if _, ok := outcomeStyle[o]; !ok {
			out = append(out, o)
		}
	}
	sort.Strings(out)
	return out
}

// counted says whether the platform's window counts an arrival: a refused
// request does not enter it; one answered 503 or never answered does.
func counted(a arrival) bool { return a.outcome != outcomeRefused }

// inWindow gives, for each arrival (in time order), the number of counted
// arrivals in the window (at-W, at], itself included when it is counted:
// the mock's rule, under which a request is refused when the limit is
// already reached before it.
func inWindow(arrivals []arrival, window time.Duration) []int {
	out := make([]int, len(arrivals))
	var times []time.Time // counted arrivals so far
	first := 0            // first of times still in the window
	for i, a := range arrivals {
		for first < len(times) && !times[first].After(a.at.Add(-window)) {
			first++
		}
		if counted(a) {
			times = append(times, a.at)
		}
		out[i] = len(times) - first
	}
	return out
}

// maxInWindow is the most counted arrivals in any window.
func maxInWindow(arrivals []arrival, window time.Duration) int {
	m := 0
	for i, n := range inWindow(arrivals, window) {
		if counted(arrivals[i]) {
			m = max(m, n)
		}
	}
	return m
}

// windowSteps is the step function of the number of counted arrivals in
// the window ending at each moment: up by one at an arrival, down by one a
// window later. A departure and an arrival at one instant leave the count
// as it was, as the window (t-W, t] has it.
func windowSteps(arrivals []arrival, t0 time.Time, window time.Duration) plotter.XYs {
	type event struct {
		at    time.Duration
		delta int
	}
	var events []event
	for _, a := range arrivals {
		if counted(a) {
			events = append(events, event{a.at.Sub(t0), +1}, event{a.at.Sub(t0) + window, -1})
		}
	}
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].at != events[j].at {
			return events[i].at < events[j].at
		}
		return events[i].delta < events[j].delta // departures first
	})
	pts := plotter.XYs{{X: 0, Y: 0}}
	n := 0
	for _, e := range events {
		n += e.delta
		pts = append(pts, plotter.XY{X: e.at.Seconds(), Y: float64(n)})
	}
	return pts
}
