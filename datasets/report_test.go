package datasets

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReportSummary(t *testing.T) {
	var load Report
	for i := range maxSkippedReasons + 2 {
		load.skip(fmt.Errorf("d.jsonl:%d: bad", i+1))
	}
	load.Rows = 5
	assert.Len(t, load.SkippedReasons, maxSkippedReasons, "only the first few reasons are kept")
	assert.Contains(t, load.String(), "5 rows kept, 12 bad rows skipped")
	assert.Contains(t, load.String(), "\n  skipped: d.jsonl:1: bad")
	assert.Contains(t, load.String(), "\n  ... and 2 more")

	encode := Report{Rows: 3, Truncated: 2, Dropped: 1}
	assert.Equal(t, "3 rows kept, 2 truncated, 1 dropped as longer than max_length", encode.String())
}
