// Command traceparent reads records as a Go consumer of kafka-events' topics does and checks
// the W3C trace context (https://www.w3.org/TR/trace-context/, level 1) each one carries in
// its `traceparent` header, the way an OpenTelemetry consumer continues the trace from it.
//
// Build/run from the repository root, without network and without modules (standard library
// only):
//
//	GO111MODULE=off go run ./tests/go/traceparent < records.jsonl
//
// stdin: one JSON line per record, {"name":"...","headers":{"name":"value",...},"payload":{...}}.
// For each: the payload must decode with encoding/json into the record's struct (an object
// with a string "id"; "correlation_id" read when present); the traceparent header must be
// version 00, a 32-lowercase-hex trace id and a 16-lowercase-hex parent id, neither all
// zeros, and two hex flags. Prints {"name","trace_id","parent_id","sampled","correlation_id"}
// per record and exits 1 when any record fails (the reasons on stderr).
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type record struct {
	Name    string            `json:"name"`
	Headers map[string]string `json:"headers"`
	Payload json.RawMessage   `json:"payload"`
}

// event holds what every kafka-events model has, plus the audit entry's correlation id.
type event struct {
	ID            string  `json:"id"`
	CorrelationID *string `json:"correlation_id"`
}

type result struct {
	Name          string `json:"name"`
	TraceID       string `json:"trace_id"`
	ParentID      string `json:"parent_id"`
	Sampled       bool   `json:"sampled"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// lowerHex says whether s is n lowercase hex digits, not all zeros.
func lowerHex(s string, n int) bool {
	if len(s) != n || strings.ToLower(s) != s {
		return false
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return true
		}
	}
	return false
}

func parse(traceparent string) (result, error) {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || parts[0] != "00" {
		return result{}, fmt.Errorf("traceparent %q: want 00-<trace-id>-<parent-id>-<flags>", traceparent)
	}
	if !lowerHex(parts[1], 32) {
		return result{}, fmt.Errorf("traceparent %q: bad trace id", traceparent)
	}
	if !lowerHex(parts[2], 16) {
		return result{}, fmt.Errorf("traceparent %q: bad parent id", traceparent)
	}
	flags, err := hex.DecodeString(parts[3])
	if err != nil || len(flags) != 1 || strings.ToLower(parts[3]) != parts[3] {
		return result{}, fmt.Errorf("traceparent %q: bad flags", traceparent)
	}
	return result{TraceID: parts[1], ParentID: parts[2], Sampled: flags[0]&1 == 1}, nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := json.NewEncoder(os.Stdout)
	failed := false
	fail := func(name string, err error) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		failed = true
	}
	for in.Scan() {
		var r record
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			fmt.Fprintf(os.Stderr, "bad input line: %v\n", err)
			os.Exit(2)
		}
		var e event
		if err := json.Unmarshal(r.Payload, &e); err != nil {
			fail(r.Name, fmt.Errorf("payload does not decode: %v", err))
			continue
		}
		if e.ID == "" {
			fail(r.Name, fmt.Errorf("payload has no id"))
			continue
		}
		tp, ok := r.Headers["traceparent"]
		if !ok {
			fail(r.Name, fmt.Errorf("no traceparent header"))
			continue
		}
		res, err := parse(tp)
		if err != nil {
			fail(r.Name, err)
			continue
		}
		res.Name = r.Name
		if e.CorrelationID != nil {
			res.CorrelationID = *e.CorrelationID
		}
		if err := out.Encode(res); err != nil {
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "reading stdin: %v\n", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}
