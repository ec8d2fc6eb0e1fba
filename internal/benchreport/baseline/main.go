// Command baseline reads an endpoint file the plain way, for the whole-process
// comparison of internal/benchreport: CSV with encoding/csv (ReuseRecord),
// NDJSON with encoding/json into a map per line. It prints the records read.
//
//	baseline -format csv FILE
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	format := flag.String("format", "csv", "`csv` or json")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "baseline: name one file")
		os.Exit(2)
	}
	n, err := read(*format, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	fmt.Println(n, "records")
}

func read(format, path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	if format == "json" {
		br := bufio.NewReaderSize(f, 64*1024)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 1 {
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					return n, fmt.Errorf("line %d: %w", n+1, err)
				}
				n++
			}
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
		}
	}
	r := csv.NewReader(bufio.NewReaderSize(f, 64*1024))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	for {
		_, err := r.Read()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}
