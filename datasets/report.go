package datasets

import (
	"fmt"
	"strings"
)

// maxSkippedReasons bounds Report.SkippedReasons: enough to diagnose, small enough to log.
const maxSkippedReasons = 10

// Report counts what a stage kept and what it left out, for the run summary.
type Report struct {
	Files          []string // files read, in order (Load only)
	Rows           int      // rows or examples kept
	Skipped        int      // bad rows skipped because SkipBadRows was set
	SkippedReasons []string // the first few skip reasons, each starting with file:line
	Truncated      int      // SFT examples cut to MaxLength
	Dropped        int      // preference pairs or prompts over MaxLength, dropped as TRL does
}

// skip records a bad row that SkipBadRows let through.
func (r *Report) skip(err error) {
	r.Skipped++
	if len(r.SkippedReasons) < maxSkippedReasons {
		r.SkippedReasons = append(r.SkippedReasons, err.Error())
	}
}

// String is the one-paragraph summary a run prints.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows kept", r.Rows)
	if r.Skipped > 0 {
		fmt.Fprintf(&b, ", %d bad rows skipped", r.Skipped)
	}
	if r.Truncated > 0 {
		fmt.Fprintf(&b, ", %d truncated", r.Truncated)
	}
	if r.Dropped > 0 {
		fmt.Fprintf(&b, ", %d dropped as longer than max_length", r.Dropped)
	}
	for _, s := range r.SkippedReasons {
		fmt.Fprintf(&b, "\n  skipped: %s", s)
	}
	if r.Skipped > len(r.SkippedReasons) {
		fmt.Fprintf(&b, "\n  ... and %d more", r.Skipped-len(r.SkippedReasons))
	}
	return b.String()
}
