package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ocs-go/identity/hybridclients"
	"golang.org/x/term"
)

// progress redraws one line on a terminal (clients done of the total, rate, time left,
// throttling), or does nothing.
type progress struct {
	w     io.Writer
	on    bool
	width int
	start time.Time
	drawn time.Time // when the line was last drawn; zero before the first time
	shown int       // the length of the line drawn last, to blank what a shorter one leaves
}

// redrawEvery spaces the redraws: a scan reports each client, thousands a second.
const redrawEvery = 100 * time.Millisecond

// newProgress returns a progress line on w, which is on a terminal when on is true, at
// most 80 columns wide (less on a narrower terminal): one column is left free, so that no
// terminal wraps the line.
func newProgress(w io.Writer, on bool) *progress {
	width := 80
	if f, ok := w.(interface{ Fd() uintptr }); ok && on {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			width = min(width, cols)
		}
	}
	return &progress{w: w, on: on, width: width - 1, start: time.Now()}
}

func (p *progress) update(s hybridclients.Progress) {
	if !p.on {
		return
	}
	now := time.Now()
	last := s.Total > 0 && s.Done >= s.Total
	if !p.drawn.IsZero() && now.Sub(p.drawn) < redrawEvery && !last {
		return
	}
	p.drawn = now
	line := progressLine(s, now.Sub(p.start), p.width)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(0, p.shown-len(line))))
	p.shown = len(line)
}

// finish ends the line, so that what follows starts on a line of its own.
func (p *progress) finish() {
	if p.on && !p.drawn.IsZero() {
		fmt.Fprintln(p.w)
	}
}

// progressLine renders s, elapsed after the scan started, in at most width columns (all
// ASCII, one byte a column). Every number is at most 5 characters (short), so the line
// does not grow with the tenant; a bar fills what room is left, and a line that is still
// too long is cut:
//
//	audit 12345/50000  24% [#####.....] 410/s eta 1m35s throttled 312 limit 300/s
func progressLine(s hybridclients.Progress, elapsed time.Duration, width int) string {
	done, total := float64(max(0, s.Done)), float64(s.Total)
	head := "audit " + short(done) + "/?"
	if total > 0 {
		head = fmt.Sprintf("audit %s/%s %3d%%", short(done), short(total), int(min(100, done*100/total))) // 100% only when done
	}
	var rate float64
	if elapsed > 0 {
		rate = done / elapsed.Seconds()
	}
	tail := []string{short(rate) + "/s", "eta ?"}
	if rate > 0 && total > 0 {
		tail[1] = "eta " + compact(max(0, total-done)/rate)
	}
	if s.Failed > 0 {
		tail = append(tail, "failed "+short(float64(s.Failed)))
	}
	if s.Throttled > 0 {
		tail = append(tail, "throttled "+short(float64(s.Throttled)))
		if s.Rate > 0 {
			tail = append(tail, "limit "+short(s.Rate)+"/s")
		}
	}
	rest := strings.Join(tail, " ")
	line := head + " " + rest
	// The bar: at least 10 marks, at most 30, or none.
	if room := width - len(line) - 3; room >= 10 {
		n := min(room, 30)
		marks := 0
		if total > 0 {
			marks = int(float64(n) * min(1, done/total))
		}
		line = head + " [" + strings.Repeat("#", marks) + strings.Repeat(".", n-marks) + "] " + rest
	}
	return line[:min(len(line), max(0, width))]
}

// short writes f (not negative) in at most 5 characters: its whole part below 100,000,
// else in thousands (k), millions (M) and so on, with one decimal below 10.
func short(f float64) string {
	if f < 100_000 {
		return strconv.Itoa(int(max(0, f)))
	}
	for _, unit := range "kMGTPE" {
		f /= 1000
		switch {
		case f < 9.95:
			return fmt.Sprintf("%.1f%c", f, unit)
		case f < 999.5:
			return fmt.Sprintf("%.0f%c", f, unit)
		}
	}
	return "huge"
}

// compact writes a duration of secs seconds in at most 6 characters: 45s, 12m05s, 3h07m,
// >99h.
func compact(secs float64) string {
	if secs >= 100*3600 {
		return ">99h"
	}
	d := time.Duration(secs * float64(time.Second)).Round(time.Second)
	switch {
	case d >= 100*time.Hour:
		return ">99h"
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
