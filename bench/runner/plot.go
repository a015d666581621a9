package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette gives each strategy column its colour: the default columns
// (strategies, in order) theirs in every plot, none-aa a light grey, and
// other columns the rest in turn.
var palette = []color.Color{
	color.RGBA{R: 0x33, G: 0x33, B: 0x33, A: 0xff}, // none: dark grey
	color.RGBA{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff}, // orange
	color.RGBA{R: 0xcc, G: 0x33, B: 0x33, A: 0xff}, // red
	color.RGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}, // blue
	color.RGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}, // green
	color.RGBA{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff}, // purple
	color.RGBA{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff}, // sky blue
}

// plotUsage draws the cgroup usage over time of every run of one scenario,
// one colour per strategy, a cross where a run was OOM-killed, and the cap.
func plotUsage(path string, sc scenario, cells []cell, capBytes uint64) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: cgroup memory usage, cap %d MiB", sc.Name, capBytes/mib)
	if sc.Cut != nil {
		p.Title.Text = fmt.Sprintf("%s: cgroup memory usage, cap %d MiB, lowered to %d MiB after %s", sc.Name, sc.capBytes()/mib, capBytes/mib, sc.Cut.After)
	}
	p.X.Label.Text = "time since start (s)"
	p.Y.Label.Text = "memory.usage_in_bytes (MiB)"
	p.Y.Min = 0
	top := capBytes // a cut that has not taken yet leaves usage above the final cap
	for _, c := range cells {
		for _, r := range c.Runs {
			for _, smp := range r.Samples {
				top = max(top, smp.Bytes)
			}
		}
	}
	p.Y.Max = float64(top)/mib*1.08 + 1
	p.Legend.Top = false
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	var yt []plot.Tick
	step := uint64(8) // at most about 10 ticks: 8 MiB steps up to 80 MiB, 32 up to 320, ...
	for top/mib/step > 10 {
		step *= 2
	}
	for v := uint64(0); v <= top/mib; v += step {
		yt = append(yt, plot.Tick{Value: float64(v), Label: fmt.Sprint(v)})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(yt)

	maxT := 0.0
	for i, c := range cells {
		col := colourOf(cells, i)
		var kills plotter.XYs
		var legendLine *plotter.Line
		for _, r := range c.Runs {
			samples := r.Samples
			if r.Outcome == oomKilled {
				// Cut the fall to zero after the kill: the cross marks it.
				// The highest sample, not the kernel's peak: a heap that
				// rose to the cap between two samples would lose the line.
				var high uint64
				for _, smp := range samples {
					high = max(high, smp.Bytes)
				}
				last := len(samples) - 1
				for last > 0 && float64(samples[last].Bytes) < 0.9*float64(high) {
					last--
				}
				samples = samples[:last+1]
			}
			if len(samples) == 0 {
				continue
			}
			xys := make(plotter.XYs, len(samples))
			for j, s := range samples {
				xys[j].X = s.At.Seconds()
				xys[j].Y = float64(s.Bytes) / mib
			}
			if t := xys[len(xys)-1].X; t > maxT {
				maxT = t
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			l.Color = col
			l.Width = vg.Points(1)
			p.Add(l)
			if legendLine == nil {
				legendLine = l
			}
			if r.Outcome == oomKilled {
				kills = append(kills, plotter.XY{X: xys[len(xys)-1].X, Y: float64(r.Peak) / mib})
			}
		}
		if legendLine == nil {
			continue
		}
		label := fmt.Sprintf("%s (%d/%d survived)", c.Strategy.Name, c.Survived, len(c.Runs))
		p.Legend.Add(label, legendLine)
		if len(kills) > 0 {
			s, err := plotter.NewScatter(kills)
			if err != nil {
				return err
			}
			s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4), Shape: draw.CrossGlyph{}}
			p.Add(s)
		}
	}
	var xt []plot.Tick
	for t := 0; float64(t) <= maxT+0.5; t++ {
		xt = append(xt, plot.Tick{Value: float64(t), Label: fmt.Sprint(t)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	capLine, err := plotter.NewLine(plotter.XYs{{X: 0, Y: float64(capBytes) / mib}, {X: maxT, Y: float64(capBytes) / mib}})
	if err != nil {
		return err
	}
	capLine.Color = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
	capLine.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(capLine)
	p.Legend.Add("cap (× = OOM kill)", capLine)
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}

var noneAAColour = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}

// colourOf returns the colour of cells[i] (see palette).
func colourOf(cells []cell, i int) color.Color {
	name := cells[i].Strategy.Name
	if name == noneAA.Name {
		return noneAAColour
	}
	for k, st := range strategies {
		if st.Name == name {
			return palette[k%len(palette)]
		}
	}
	// The others in turn, after the default columns' colours.
	n := 0
	for _, c := range cells[:i] {
		if c.Strategy.Name != noneAA.Name && !hasStrategy(strategies, c.Strategy.Name) {
			n++
		}
	}
	return palette[(len(strategies)+n)%len(palette)]
}
