// Command interop checks JSON wire compatibility between the kafka-events
// Rust library and the Go services that publish the same events: it declares
// the Go services' own structs (AuditEntry, AuthEvent, UsageEntry) and decodes
// with encoding/json and github.com/google/uuid, as they do.
//
// Build/run from the repository root, without network and without modules:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tests/go/interop.go MODE
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o DIR/interop tests/go/interop.go
//
// Needs (Debian 12): golang-go (1.19) and golang-github-google-uuid-dev (1.3.0).
//
// # MODES
//
// decode: stdin holds JSON lines {"model":"audit"|"auth"|"usage","name":"...","json":{...}}.
// For each line: every json tag of the Go struct must be a key of the object;
// json.Unmarshal into the Go struct must succeed; and each Go field must
// hold the same value as the raw input (time.Time: time.Parse(RFC3339Nano)
// + Equal; uuid.UUID: uuid.Parse + ==; anything else: json.Marshal the Go
// value and compare with the raw value, both unmarshalled into interface{},
// with reflect.DeepEqual). Extra keys are ignored (as Go does). Prints one
// line per input line, {"name":"...","ok":true} or
// {"name":"...","ok":false,"errors":["..."]}, and exits 1 if any failed.
//
// encode: prints {"model":...,"name":...,"json":<json.Marshal(struct value)>}
// per case below; "json" is byte-for-byte what json.Marshal writes.
//
// schema: prints {"audit":S,"auth":S,"usage":S}, each S the JSON Schema of the
// documents the Go struct writes, read from its fields by reflection: every field
// required (Go writes every field); uuid.UUID a string of format "uuid", time.Time one
// of format "date-time"; intN/uintN an integer in the type's range; floatN a number;
// string and named string types a string; a pointer, slice or map also null; a
// slice's items and a map's values by their own type; interface{} anything (true).
//
// partition: stdin lines KEY<TAB>PARTITIONS, stdout KEY<TAB>PARTITIONS<TAB>PARTITION.
// PARTITION is the rule of go-models.md: FNV-1a 32-bit of the key bytes,
// as int32, % n (Go truncated remainder), absolute value. This is what
// kafka-go's Hash balancer does since v0.3.1 (commit c2af8e7, PR #336,
// "Fixed compatibility with the sarama hash partitioner") and what sarama's
// NewHashPartitioner does. The key is everything before the LAST tab; an
// empty key is hashed as zero bytes (kafka-go only round-robins a nil key,
// which a line cannot express).
//
// The rule is computed here with Go's own hash/fnv rather than with kafka-go:
// Debian's kafka-go package is 0.2.1, which predates that fix (it takes the
// hash as UNSIGNED, so e.g. key "20", 16 partitions gives 15 instead of 1).
//
// ENCODE CASES (all times UTC; Go writes every field in declaration order,
// map keys sorted, and escapes <, >, & as \u003c, \u003e, \u0026)
//
// UUID constants used below:
//
//	U_ID1    = 6f9619ff-8b86-d011-b42d-00c04fc964ff
//	U_ID2    = 7c9e6679-7425-40de-944b-e07fc1f90ae7
//	U_ID3    = 16fd2706-8baf-433b-82eb-8c7fada847da
//	U_ID4    = a8098c1a-f86e-11da-bd1a-00112444be1e
//	U_ID5    = 9c5b94b1-35ad-49bb-b118-8e8fc24abf80
//	U_ID6    = 0f8fad5b-d9cb-469f-a165-70867728950e
//	U_ID7    = 886313e1-3b8a-5372-9b90-0c9aee199e5d
//	U_ID8    = c9bf9e57-1685-4c89-bafb-ff5af830be8a
//	U_ID9    = 8f14e45f-ceea-467f-a0e6-7b4c1d8a3e21
//	U_TENANT = 3fa85f64-5717-4562-b3fc-2c963f66afa6
//	U_JTI    = 9b2e4c1a-7d3f-4e8b-a5c6-0f1e2d3c4b5a
//	U_RES    = 550e8400-e29b-41d4-a716-446655440000
//	U_PROD   = 1b4e28ba-2fa1-11d2-883f-0016d3cca427
//	ZERO     = 00000000-0000-0000-0000-000000000000
//
// audit-anonymous (AuditEntry): tenant_id ZERO, subject "", jti ZERO,
// http_method "GET", resource "health", resource_id ZERO, payload null,
// source_ip "10.0.0.7:53211", user_agent "curl/8.5.0",
// timestamp "2024-03-15T09:26:53Z" (0 nanos), service "orders",
// endpoint "/health", full_url "/health", id U_ID1, correlation_id "".
//
// audit-authenticated (AuditEntry): tenant_id U_TENANT, subject "user-1234",
// jti U_JTI, http_method "POST", resource "orders", resource_id U_RES,
// payload {"customer":{"id":"user-1234","tags":["vip","beta"]},"express":true,
// "items":[{"qty":2,"sku":"A-1"},{"qty":1,"sku":"B-22"}],"note":null,
// "total":12.5}, source_ip "192.0.2.10:40112",
// user_agent "Mozilla/5.0 (X11; Linux x86_64)",
// timestamp "2024-03-15T09:26:53.12Z" (120000000 nanos), service "orders",
// endpoint "/orders/{id}",
// full_url "/orders/550e8400-e29b-41d4-a716-446655440000?expand=items&limit=10"
// (written with \u0026 for &), id U_ID2, correlation_id "corr-7f3a9c".
//
// audit-nanos (AuditEntry): tenant_id U_TENANT, subject "user-1234",
// jti U_JTI, http_method "PATCH", resource "orders", resource_id U_RES,
// payload [{"op":"replace","path":"/status","value":"closed"}],
// source_ip "[2001:db8::1]:443", user_agent "Go-http-client/1.1",
// timestamp "2024-03-15T09:26:53.123456789Z" (123456789 nanos),
// service "orders", endpoint "/orders/{id}",
// full_url "/orders/550e8400-e29b-41d4-a716-446655440000", id U_ID3,
// correlation_id "".
//
// auth-login-success (AuthEvent): id U_ID4, service_name "auth",
// type "login.success", subject "user-1234", tenant_id U_TENANT, error "",
// path "/login", user_agent "curl/8.5.0", remote_addr "10.0.0.7:53211",
// timestamp "2024-03-15T09:26:53Z" (0 nanos).
//
// auth-login-failure (AuthEvent): id U_ID5, service_name "auth",
// type "login.failure", subject "mallory", tenant_id ZERO,
// error "invalid credentials", path "/login",
// user_agent "python-requests/2.31.0", remote_addr "198.51.100.23:61000",
// timestamp "2024-03-15T09:26:53.000001Z" (1000 nanos).
//
// auth-authz-denied (AuthEvent): id U_ID6, service_name "orders",
// type "authz.denied", subject "user-1234", tenant_id U_TENANT,
// error "missing scope orders:write", path "/orders/{id}",
// user_agent "curl/8.5.0", remote_addr "10.0.0.7:53211",
// timestamp "2024-03-15T09:26:53.12Z" (120000000 nanos).
//
// auth-authz-error (AuthEvent): id U_ID7, service_name "orders",
// type "authz.error", subject "user-1234", tenant_id U_TENANT,
// error "policy engine unavailable: dial tcp 10.0.0.9:8181: connect: connection refused",
// path "/orders", user_agent "", remote_addr "10.0.0.8:40000",
// timestamp "2024-03-15T09:26:53.123456789Z" (123456789 nanos).
//
// usage-middleware (UsageEntry, as the Go middleware builds it): id U_ID8,
// tenant_id U_TENANT, owner_id null, product_id U_PROD, memory_mb 512,
// start_timestamp "2024-03-15T09:26:53.12Z",
// end_timestmap "2024-03-15T09:26:53.123456789Z", duration 0 (written "0"),
// status "draft", metadata [{"user_id":"user-1234"},{"service_name":"orders"}],
// tags null, created_at "0001-01-01T00:00:00Z" (zero time), created_by "".
//
// usage-full (UsageEntry): id U_ID9, tenant_id U_TENANT,
// owner_id "acme-billing-7", product_id U_PROD, memory_mb 32767,
// start_timestamp "2024-03-15T09:26:53Z",
// end_timestmap "2024-03-15T09:26:55.75Z", duration 2.75, status "active",
// metadata [{"user_id":"user-1234"},{"service_name":"orders"},
// {"plan":"pro","region":"eu-west-1"}], tags {"env":"prod","tier":"gold"},
// created_at "2024-01-02T03:04:05Z", created_by "admin@example.com".
//
// usage-empty-collections (UsageEntry): id U_ID1, tenant_id ZERO,
// owner_id "" (non-nil pointer to empty string, written ""),
// product_id ZERO, memory_mb 0, start_timestamp and end_timestmap
// "0001-01-01T00:00:00Z", duration 0, status "closed", metadata []
// (empty, non-nil: written [] not null), tags {} (written {} not null),
// created_at "0001-01-01T00:00:00Z", created_by "".
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ---------------------------------------------------------------------------
// The Go models (go-models.md), in declaration order.

// AuditEntry is published on cfg.Event.Topic.Audit.
type AuditEntry struct {
	TenantID      uuid.UUID `json:"tenant_id"`
	Subject       string    `json:"subject"`
	JTI           uuid.UUID `json:"jti"`
	HTTPMethod    string    `json:"http_method"`
	Resource      string    `json:"resource"`
	ResourceID    uuid.UUID `json:"resource_id"`
	Payload       any       `json:"payload"`
	SourceIP      string    `json:"source_ip"`
	UserAgent     string    `json:"user_agent"`
	Timestamp     time.Time `json:"timestamp"`
	Service       string    `json:"service"`
	Endpoint      string    `json:"endpoint"`
	FullURL       string    `json:"full_url"`
	ID            uuid.UUID `json:"id"`
	CorrelationID string    `json:"correlation_id"`
}

// AuthEvent is published on the audit topic.
type AuthEvent struct {
	ID          uuid.UUID `json:"id"`
	ServiceName string    `json:"service_name"`
	Type        string    `json:"type"`
	Subject     string    `json:"subject"`
	TenantID    uuid.UUID `json:"tenant_id"`
	Error       string    `json:"error"`
	Path        string    `json:"path"`
	UserAgent   string    `json:"user_agent"`
	RemoteAddr  string    `json:"remote_addr"`
	Timestamp   time.Time `json:"timestamp"`
}

// UsageStatus is the usage entry's status enum (a plain string on the wire).
type UsageStatus string

const (
	UsageStatusActive    UsageStatus = "active"
	UsageStatusDeleted   UsageStatus = "deleted"
	UsageStatusSuspended UsageStatus = "suspended"
	UsageStatusRejected  UsageStatus = "rejected"
	UsageStatusDraft     UsageStatus = "draft"
	UsageStatusClosed    UsageStatus = "closed"
)

// UsageEntry is published on cfg.Event.Topic.Usage.
type UsageEntry struct {
	ID             uuid.UUID           `json:"id"`
	TenantID       uuid.UUID           `json:"tenant_id"`
	OwnerID        *string             `json:"owner_id"`
	ProductID      uuid.UUID           `json:"product_id"`
	MemoryMB       int16               `json:"memory_mb"`
	StartTimestamp time.Time           `json:"start_timestamp"`
	EndTimestamp   time.Time           `json:"end_timestmap"` // sic: the wire name
	Duration       float64             `json:"duration"`
	Status         UsageStatus         `json:"status"`
	Metadata       []map[string]string `json:"metadata"`
	Tags           map[string]string   `json:"tags"`
	CreatedAt      time.Time           `json:"created_at"`
	CreatedBy      string              `json:"created_by"`
}

// ---------------------------------------------------------------------------

func main() {
	if len(os.Args) != 2 {
		usage()
	}
	var err error
	failed := false
	switch os.Args[1] {
	case "decode":
		failed, err = decodeMode(os.Stdin, os.Stdout)
	case "encode":
		err = encodeMode(os.Stdout)
	case "partition":
		err = partitionMode(os.Stdin, os.Stdout, rulePartition, 1<<31-1)
	case "schema":
		err = schemaMode(os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: interop decode|encode|partition|schema")
	os.Exit(2)
}

// ---------------------------------------------------------------------------
// decode

type inputLine struct {
	Model string          `json:"model"`
	Name  string          `json:"name"`
	JSON  json.RawMessage `json:"json"`
}

type result struct {
	Name   string   `json:"name"`
	OK     bool     `json:"ok"`
	Errors []string `json:"errors,omitempty"`
}

var (
	timeType = reflect.TypeOf(time.Time{})
	uuidType = reflect.TypeOf(uuid.UUID{})
)

func newModel(model string) (interface{}, error) {
	switch model {
	case "audit":
		return &AuditEntry{}, nil
	case "auth":
		return &AuthEvent{}, nil
	case "usage":
		return &UsageEntry{}, nil
	}
	return nil, fmt.Errorf("unknown model %q (want audit, auth or usage)", model)
}

func decodeMode(in io.Reader, out io.Writer) (failed bool, err error) {
	r := bufio.NewReader(in)
	w := bufio.NewWriter(out)
	defer w.Flush()
	lineNo := 0
	for {
		line, rerr := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			lineNo++
			res := checkLine(line, lineNo)
			if !res.OK {
				failed = true
			}
			b, merr := json.Marshal(res)
			if merr != nil {
				return failed, merr
			}
			w.Write(b)
			w.WriteByte('\n')
		}
		if rerr == io.EOF {
			return failed, nil
		}
		if rerr != nil {
			return failed, rerr
		}
	}
}

func checkLine(line []byte, lineNo int) result {
	var in inputLine
	if err := json.Unmarshal(line, &in); err != nil {
		return result{Name: fmt.Sprintf("line-%d", lineNo), Errors: []string{"input line is not a JSON object {model,name,json}: " + err.Error()}}
	}
	name := in.Name
	if name == "" {
		name = fmt.Sprintf("line-%d", lineNo)
	}
	errs := checkDocument(in.Model, in.JSON)
	return result{Name: name, OK: len(errs) == 0, Errors: errs}
}

func checkDocument(model string, doc json.RawMessage) []string {
	var errs []string
	target, err := newModel(model)
	if err != nil {
		return []string{err.Error()}
	}

	// The raw object, key by key (exact, case-sensitive key names).
	var raw map[string]json.RawMessage
	if len(doc) == 0 {
		return []string{`missing "json" in the input line`}
	}
	if err := json.Unmarshal(doc, &raw); err != nil || raw == nil {
		return []string{fmt.Sprintf("the document is not a JSON object: %s", strings.TrimSpace(string(doc)))}
	}

	// a. every Go json tag must be a key.
	st := reflect.TypeOf(target).Elem()
	present := make([]bool, st.NumField())
	for i := 0; i < st.NumField(); i++ {
		tag := jsonName(st.Field(i))
		if _, ok := raw[tag]; ok {
			present[i] = true
		} else {
			errs = append(errs, fmt.Sprintf("missing field %q (Go %s.%s %s)", tag, st.Name(), st.Field(i).Name, st.Field(i).Type))
		}
	}

	// b. json.Unmarshal into the Go struct (what a Go consumer does).
	if err := json.Unmarshal(doc, target); err != nil {
		errs = append(errs, fmt.Sprintf("json.Unmarshal into %s: %v", st.Name(), err))
		return errs // field values are unreliable after a failed Unmarshal
	}

	// c. every present field must hold the input value.
	sv := reflect.ValueOf(target).Elem()
	for i := 0; i < st.NumField(); i++ {
		if !present[i] {
			continue
		}
		f := st.Field(i)
		tag := jsonName(f)
		if msg := compareField(f, sv.Field(i), raw[tag]); msg != "" {
			errs = append(errs, fmt.Sprintf("field %q: %s", tag, msg))
		}
	}
	return errs
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if i := strings.IndexByte(tag, ','); i >= 0 {
		tag = tag[:i]
	}
	if tag == "" {
		return f.Name
	}
	return tag
}

func compareField(f reflect.StructField, v reflect.Value, raw json.RawMessage) string {
	switch f.Type {
	case timeType:
		var s string
		if isNull(raw) {
			// Go reads null as the zero time, but never writes it.
			return fmt.Sprintf("expected an RFC 3339 string (zero is %q), got null", time.Time{}.Format(time.RFC3339Nano))
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Sprintf("expected an RFC 3339 string, got %s", raw)
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Sprintf("input %q does not parse as RFC 3339: %v", s, err)
		}
		got := v.Interface().(time.Time)
		if !got.Equal(want) {
			return fmt.Sprintf("Go decoded %s, input was %q", got.Format(time.RFC3339Nano), s)
		}
		return ""
	case uuidType:
		var s string
		if isNull(raw) {
			// Go reads null as the zero UUID, but never writes it.
			return fmt.Sprintf("expected a UUID string (zero is %q), got null", uuid.Nil.String())
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Sprintf("expected a UUID string, got %s", raw)
		}
		want, err := uuid.Parse(s)
		if err != nil {
			return fmt.Sprintf("input %q is not a UUID: %v", s, err)
		}
		got := v.Interface().(uuid.UUID)
		if got != want {
			return fmt.Sprintf("Go decoded %s, input was %q", got, s)
		}
		return ""
	}
	gotJSON, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprintf("re-marshal of the Go value failed: %v", err)
	}
	var got, want interface{}
	if err := json.Unmarshal(gotJSON, &got); err != nil {
		return fmt.Sprintf("re-marshalled Go value is not JSON: %v", err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		return fmt.Sprintf("input value is not JSON: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("value changed: input %s, Go (%s) holds %s", compact(raw), f.Type, gotJSON)
	}
	return ""
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

// ---------------------------------------------------------------------------
// encode

type encodeCase struct {
	model string
	name  string
	value interface{} // a struct value, marshalled as is
}

func strp(s string) *string { return &s }

func encodeCases() []encodeCase {
	var (
		id1    = uuid.MustParse("6f9619ff-8b86-d011-b42d-00c04fc964ff")
		id2    = uuid.MustParse("7c9e6679-7425-40de-944b-e07fc1f90ae7")
		id3    = uuid.MustParse("16fd2706-8baf-433b-82eb-8c7fada847da")
		id4    = uuid.MustParse("a8098c1a-f86e-11da-bd1a-00112444be1e")
		id5    = uuid.MustParse("9c5b94b1-35ad-49bb-b118-8e8fc24abf80")
		id6    = uuid.MustParse("0f8fad5b-d9cb-469f-a165-70867728950e")
		id7    = uuid.MustParse("886313e1-3b8a-5372-9b90-0c9aee199e5d")
		id8    = uuid.MustParse("c9bf9e57-1685-4c89-bafb-ff5af830be8a")
		id9    = uuid.MustParse("8f14e45f-ceea-467f-a0e6-7b4c1d8a3e21")
		tenant = uuid.MustParse("3fa85f64-5717-4562-b3fc-2c963f66afa6")
		jti    = uuid.MustParse("9b2e4c1a-7d3f-4e8b-a5c6-0f1e2d3c4b5a")
		res    = uuid.MustParse("550e8400-e29b-41d4-a716-446655440000")
		prod   = uuid.MustParse("1b4e28ba-2fa1-11d2-883f-0016d3cca427")

		t0     = time.Date(2024, 3, 15, 9, 26, 53, 0, time.UTC)
		t12    = time.Date(2024, 3, 15, 9, 26, 53, 120000000, time.UTC)
		tNanos = time.Date(2024, 3, 15, 9, 26, 53, 123456789, time.UTC)
		tMicro = time.Date(2024, 3, 15, 9, 26, 53, 1000, time.UTC)
		tEnd   = time.Date(2024, 3, 15, 9, 26, 55, 750000000, time.UTC)
		tCreat = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	)
	// map[string]any: Go sorts the keys when marshalling.
	orderPayload := map[string]any{
		"customer": map[string]any{"id": "user-1234", "tags": []any{"vip", "beta"}},
		"express":  true,
		"items": []any{
			map[string]any{"sku": "A-1", "qty": 2},
			map[string]any{"sku": "B-22", "qty": 1},
		},
		"note":  nil,
		"total": 12.5,
	}
	patchPayload := []any{map[string]any{"op": "replace", "path": "/status", "value": "closed"}}

	return []encodeCase{
		{"audit", "audit-anonymous", AuditEntry{
			TenantID: uuid.Nil, Subject: "", JTI: uuid.Nil, HTTPMethod: "GET",
			Resource: "health", ResourceID: uuid.Nil, Payload: nil,
			SourceIP: "10.0.0.7:53211", UserAgent: "curl/8.5.0", Timestamp: t0,
			Service: "orders", Endpoint: "/health", FullURL: "/health",
			ID: id1, CorrelationID: "",
		}},
		{"audit", "audit-authenticated", AuditEntry{
			TenantID: tenant, Subject: "user-1234", JTI: jti, HTTPMethod: "POST",
			Resource: "orders", ResourceID: res, Payload: orderPayload,
			SourceIP: "192.0.2.10:40112", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
			Timestamp: t12, Service: "orders", Endpoint: "/orders/{id}",
			FullURL: "/orders/550e8400-e29b-41d4-a716-446655440000?expand=items&limit=10",
			ID:      id2, CorrelationID: "corr-7f3a9c",
		}},
		{"audit", "audit-nanos", AuditEntry{
			TenantID: tenant, Subject: "user-1234", JTI: jti, HTTPMethod: "PATCH",
			Resource: "orders", ResourceID: res, Payload: patchPayload,
			SourceIP: "[2001:db8::1]:443", UserAgent: "Go-http-client/1.1",
			Timestamp: tNanos, Service: "orders", Endpoint: "/orders/{id}",
			FullURL: "/orders/550e8400-e29b-41d4-a716-446655440000",
			ID:      id3, CorrelationID: "",
		}},
		{"auth", "auth-login-success", AuthEvent{
			ID: id4, ServiceName: "auth", Type: "login.success", Subject: "user-1234",
			TenantID: tenant, Error: "", Path: "/login", UserAgent: "curl/8.5.0",
			RemoteAddr: "10.0.0.7:53211", Timestamp: t0,
		}},
		{"auth", "auth-login-failure", AuthEvent{
			ID: id5, ServiceName: "auth", Type: "login.failure", Subject: "mallory",
			TenantID: uuid.Nil, Error: "invalid credentials", Path: "/login",
			UserAgent: "python-requests/2.31.0", RemoteAddr: "198.51.100.23:61000",
			Timestamp: tMicro,
		}},
		{"auth", "auth-authz-denied", AuthEvent{
			ID: id6, ServiceName: "orders", Type: "authz.denied", Subject: "user-1234",
			TenantID: tenant, Error: "missing scope orders:write", Path: "/orders/{id}",
			UserAgent: "curl/8.5.0", RemoteAddr: "10.0.0.7:53211", Timestamp: t12,
		}},
		{"auth", "auth-authz-error", AuthEvent{
			ID: id7, ServiceName: "orders", Type: "authz.error", Subject: "user-1234",
			TenantID: tenant,
			Error:    "policy engine unavailable: dial tcp 10.0.0.9:8181: connect: connection refused",
			Path:     "/orders", UserAgent: "", RemoteAddr: "10.0.0.8:40000", Timestamp: tNanos,
		}},
		{"usage", "usage-middleware", UsageEntry{
			ID: id8, TenantID: tenant, OwnerID: nil, ProductID: prod, MemoryMB: 512,
			StartTimestamp: t12, EndTimestamp: tNanos, Duration: 0,
			Status: UsageStatusDraft,
			Metadata: []map[string]string{
				{"user_id": "user-1234"},
				{"service_name": "orders"},
			},
			Tags: nil, CreatedAt: time.Time{}, CreatedBy: "",
		}},
		{"usage", "usage-full", UsageEntry{
			ID: id9, TenantID: tenant, OwnerID: strp("acme-billing-7"), ProductID: prod,
			MemoryMB: 32767, StartTimestamp: t0, EndTimestamp: tEnd, Duration: 2.75,
			Status: UsageStatusActive,
			Metadata: []map[string]string{
				{"user_id": "user-1234"},
				{"service_name": "orders"},
				{"region": "eu-west-1", "plan": "pro"},
			},
			Tags:      map[string]string{"tier": "gold", "env": "prod"},
			CreatedAt: tCreat, CreatedBy: "admin@example.com",
		}},
		{"usage", "usage-empty-collections", UsageEntry{
			ID: id1, TenantID: uuid.Nil, OwnerID: strp(""), ProductID: uuid.Nil,
			MemoryMB: 0, Duration: 0, Status: UsageStatusClosed,
			Metadata: []map[string]string{}, Tags: map[string]string{},
		}},
	}
}

func encodeMode(out io.Writer) error {
	w := bufio.NewWriter(out)
	defer w.Flush()
	for _, c := range encodeCases() {
		doc, err := json.Marshal(c.value) // exactly what a Go producer sends
		if err != nil {
			return fmt.Errorf("%s: %v", c.name, err)
		}
		model, _ := json.Marshal(c.model)
		name, _ := json.Marshal(c.name)
		// Assembled by hand so that doc is embedded byte for byte.
		fmt.Fprintf(w, "{\"model\":%s,\"name\":%s,\"json\":%s}\n", model, name, doc)
	}
	return nil
}

// ---------------------------------------------------------------------------
// partition

// rulePartition is the go-models.md rule (sarama NewHashPartitioner,
// kafka-go >= v0.3.1 Hash): abs(int32(fnv1a32(key)) % int32(n)).
func rulePartition(key []byte, n int) int {
	h := fnv.New32a()
	h.Write(key)
	p := int32(h.Sum32()) % int32(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

func partitionMode(in io.Reader, out io.Writer, pick func([]byte, int) int, maxN int) error {
	r := bufio.NewReader(in)
	w := bufio.NewWriter(out)
	defer w.Flush()
	lineNo := 0
	for {
		line, rerr := r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			lineNo++
			i := strings.LastIndexByte(line, '\t')
			if i < 0 {
				return fmt.Errorf("line %d: want KEY<TAB>PARTITIONS, got %q", lineNo, line)
			}
			key, ns := line[:i], line[i+1:]
			n, err := strconv.Atoi(strings.TrimSpace(ns))
			if err != nil || n <= 0 || n > maxN {
				return fmt.Errorf("line %d: bad partition count %q (want 1..%d)", lineNo, ns, maxN)
			}
			fmt.Fprintf(w, "%s\t%d\t%d\n", key, n, pick([]byte(key), n))
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// ---------------------------------------------------------------------------
// schema

type object = map[string]interface{}

func schemaMode(out io.Writer) error {
	return json.NewEncoder(out).Encode(object{
		"audit": structSchema(reflect.TypeOf(AuditEntry{})),
		"auth":  structSchema(reflect.TypeOf(AuthEvent{})),
		"usage": structSchema(reflect.TypeOf(UsageEntry{})),
	})
}

func structSchema(t reflect.Type) object {
	properties := object{}
	required := []string{}
	for i := 0; i < t.NumField(); i++ {
		name := jsonName(t.Field(i))
		properties[name] = typeSchema(t.Field(i).Type)
		required = append(required, name)
	}
	return object{"type": "object", "properties": properties, "required": required}
}

func typeSchema(t reflect.Type) interface{} {
	switch t {
	case uuidType:
		return object{"type": "string", "format": "uuid"}
	case timeType:
		return object{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return object{"type": "string"}
	case reflect.Bool:
		return object{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		min := int64(-1) << (t.Bits() - 1)
		return object{"type": "integer", "minimum": min, "maximum": -(min + 1)}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return object{"type": "integer", "minimum": 0, "maximum": ^uint64(0) >> (64 - t.Bits())}
	case reflect.Float32, reflect.Float64:
		return object{"type": "number"}
	case reflect.Ptr:
		return nullable(typeSchema(t.Elem()))
	case reflect.Slice:
		return nullable(object{"type": "array", "items": typeSchema(t.Elem())})
	case reflect.Map:
		return nullable(object{"type": "object", "additionalProperties": typeSchema(t.Elem())})
	case reflect.Interface:
		return true
	case reflect.Struct:
		return structSchema(t)
	}
	panic(fmt.Sprintf("no JSON Schema for Go type %s", t))
}

// nullable allows null too: json.Marshal writes a nil pointer, slice or map as null.
func nullable(schema interface{}) interface{} {
	if s, ok := schema.(object); ok {
		if kind, ok := s["type"].(string); ok {
			s["type"] = []string{kind, "null"}
			return s
		}
	}
	return object{"anyOf": []interface{}{schema, object{"type": "null"}}}
}
