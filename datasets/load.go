package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/posttrain/posttrain/internal/fileio"
)

// LoadOptions says how to read a dataset.
type LoadOptions struct {
	// Format is the layout every row must have; FormatAuto (or "") detects it from the first
	// good row and then holds every later row to it.
	Format Format
	// SkipBadRows counts bad rows in the Report instead of failing on the first one.
	SkipBadRows bool
}

// Load reads a JSONL file (.jsonl or .json, one object a line), a Parquet file, or a directory
// holding such files (searched recursively, read in sorted path order; hidden entries are
// ignored), and validates every row.
func Load(path string, opts LoadOptions) ([]Row, Report, error) {
	var report Report
	format, err := ParseFormat(string(opts.Format))
	if err != nil {
		return nil, report, err
	}
	files, err := dataFiles(path)
	if err != nil {
		return nil, report, err
	}
	var rows []Row
	visit := func(f fields, where string, rowErr error) error {
		row, err := acceptRow(f, where, rowErr, &format)
		if err != nil {
			if opts.SkipBadRows && errors.Is(err, ErrBadRow) {
				report.skip(err)
				return nil
			}
			return err
		}
		rows = append(rows, row)
		return nil
	}
	for _, file := range files {
		report.Files = append(report.Files, file)
		if strings.EqualFold(filepath.Ext(file), ".parquet") {
			err = readParquet(file, visit)
		} else {
			err = readJSONL(file, visit)
		}
		if err != nil {
			return nil, report, err
		}
	}
	report.Rows = len(rows)
	if len(rows) == 0 {
		return nil, report, fmt.Errorf("datasets: %s: no usable rows (%d skipped)", path, report.Skipped)
	}
	return rows, report, nil
}

// acceptRow validates one record; the first good record fixes an auto-detected format.
func acceptRow(f fields, where string, rowErr error, format *Format) (Row, error) {
	if rowErr != nil {
		return Row{}, rowErr
	}
	rowFormat := *format
	if rowFormat == FormatAuto {
		detected, err := detectFormat(f, where)
		if err != nil {
			return Row{}, err
		}
		rowFormat = detected
	}
	row, err := decodeRow(f, rowFormat, where)
	if err != nil {
		return Row{}, err
	}
	*format = rowFormat
	return row, nil
}

var dataExtensions = []string{".jsonl", ".json", ".parquet"}

func isDataFile(name string) bool {
	return slices.Contains(dataExtensions, strings.ToLower(filepath.Ext(name)))
}

// dataFiles resolves path to the files to read, in order.
func dataFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if !info.IsDir() {
		if !isDataFile(path) {
			return nil, fmt.Errorf("datasets: %s: unknown file type (want .jsonl, .json or .parquet)", path)
		}
		if err := fileio.CheckRegular(path, 0); err != nil { // a FIFO or device would block the read
			return nil, fmt.Errorf("datasets: %w", err)
		}
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && isDataFile(p) {
			if err := fileio.CheckRegular(p, 0); err != nil { // a FIFO or device would block the read
				return err
			}
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("datasets: listing %s: %w", path, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("datasets: %s: no .jsonl, .json or .parquet files in the directory", path)
	}
	slices.Sort(files) // WalkDir is lexical per directory already; sorting the full paths makes it explicit
	return files, nil
}
