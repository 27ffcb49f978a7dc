// Command eventjson checks records against the EventJson envelope that today's Go
// services (middleware v3.x, and the event-stream SDK they publish with) write and
// read, and writes envelopes as those services do. It applies the SDK reader's rules,
// written here from ../shared/interop/event-json.md, and decodes with the SDK's field
// types and tags (encoding/json, github.com/google/uuid, time.Time).
//
// Build from the repository root, without network and without modules:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o DIR/eventjson ./tests/go/eventjson
//
// # MODES
//
// check: stdin holds JSON lines {"name":"...","key":"...","headers":{"name":"value"},
// "value":{...}}, one record each. A record passes when:
//   - the reader's rules hold: the ten required keys are present (created_by,
//     event_source, event_type, id, md5_hash, metadata, request_id, session_id,
//     tenant_id, timestamp), md5_hash matches ^[A-Fa-f0-9]{32}$, and created_by,
//     event_source and event_type are not empty;
//   - json.Unmarshal into EventJson (below) succeeds;
//   - md5_hash is the lower-case hex MD5 of the payload's JSON text as written;
//   - the key is the envelope's id, and the headers content-type: application/json
//     and message-type: Event are there;
//   - event_source is {domain}.{group}.{name}.v{major};
//   - the payload is an object; for an event type the Go middleware sends, with every
//     key it writes, each of the JSON type it writes (see payloadKeys).
//
// Prints {"name":"...","ok":true} or {"name":"...","ok":false,"errors":[...]} per
// line, and exits 1 if any failed.
//
// write: prints one JSON line per event type the middleware sends (authz.error is shaped
// as authz.denied), and last an audit.log as the middleware itself writes it, created_by and
// md5_hash empty,
// {"name":"...","key":"...","value":<json.Marshal(EventJson)>}, with payloads built as
// the middleware builds them (a map, so keys sorted) and md5_hash by the recipe above.
package main

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"

	"github.com/google/uuid"
)

// EventJson has the SDK's field types and tags.
type EventJson struct {
	AffectedEntityUri *string                 `json:"affected_entity_uri,omitempty"`
	Context           interface{}             `json:"context,omitempty"`
	ContextUri        *string                 `json:"context_uri,omitempty"`
	CreatedBy         string                  `json:"created_by"`
	EventSource       string                  `json:"event_source"`
	EventSourceUri    *string                 `json:"event_source_uri,omitempty"`
	EventType         string                  `json:"event_type"`
	Id                uuid.UUID               `json:"id"`
	Md5Hash           string                  `json:"md5_hash"`
	Message           *string                 `json:"message,omitempty"`
	Metadata          map[string]string       `json:"metadata"`
	OwnerId           *string                 `json:"owner_id,omitempty"`
	Payload           *map[string]interface{} `json:"payload,omitempty"`
	PayloadUri        *string                 `json:"payload_uri,omitempty"`
	RequestId         uuid.UUID               `json:"request_id"`
	SessionId         uuid.UUID               `json:"session_id"`
	Tags              *map[string]string      `json:"tags,omitempty"`
	TenantId          uuid.UUID               `json:"tenant_id"`
	Timestamp         time.Time               `json:"timestamp"`
}

var required = []string{"created_by", "event_source", "event_type", "id", "md5_hash",
	"metadata", "request_id", "session_id", "tenant_id", "timestamp"}

var md5Pattern = regexp.MustCompile(`^[A-Fa-f0-9]{32}$`)
var sourcePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.v[0-9]+$`)

// JSON kinds a payload key may hold.
const (
	str    = "string"
	num    = "number"
	i16    = "integer (int16)"
	code   = "integer (Go's int)"
	rfc    = "RFC 3339 string"
	anyVal = "any JSON"
	strNil = "string or null"
)

// The payload keys the Go middleware (v3.1.2) writes per event type.
var payloadKeys = map[string]map[string]string{
	"audit.log": {"jti": str, "http_method": str, "resource": str, "endpoint": str,
		"full_url": str, "source_ip": str, "user_agent": str, "subject": str,
		"payload": anyVal, "status_code": code, "response_payload": anyVal},
	"usage.report": {"product_id": str, "memory_mb": i16, "start_time": rfc,
		"end_time": rfc, "status": str, "user_id": str, "service_name": str},
	"login.success": {"subject": str, "cls": str, "jti": str, "tenant_id": str,
		"path": str, "user_agent": str, "remote_addr": str},
	"login.failure": {"subject": str, "path": str, "user_agent": str, "remote_addr": str},
	"authz.denied": {"status_code": code, "subject": str, "error": strNil, "path": str,
		"user_agent": str, "remote_addr": str},
	"authz.error": {"status_code": code, "subject": str, "error": strNil, "path": str,
		"user_agent": str, "remote_addr": str},
}

type input struct {
	Name    string            `json:"name"`
	Key     string            `json:"key"`
	Headers map[string]string `json:"headers"`
	Value   json.RawMessage   `json:"value"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: eventjson check|write")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "check":
		os.Exit(checkMode())
	case "write":
		writeMode()
	default:
		fmt.Fprintln(os.Stderr, "usage: eventjson check|write")
		os.Exit(2)
	}
}

func checkMode() int {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	failed := 0
	for scanner.Scan() {
		var in input
		if err := json.Unmarshal(scanner.Bytes(), &in); err != nil {
			fmt.Fprintln(os.Stderr, "bad input line:", err)
			os.Exit(2)
		}
		errs := check(in)
		line := map[string]interface{}{"name": in.Name, "ok": len(errs) == 0}
		if len(errs) > 0 {
			line["errors"] = errs
			failed++
		}
		out, _ := json.Marshal(line)
		fmt.Println(string(out))
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func check(in input) []string {
	var errs []string
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(in.Value, &keys); err != nil {
		return []string{"not a JSON object: " + err.Error()}
	}
	// The reader's rules.
	for _, key := range required {
		if _, ok := keys[key]; !ok {
			errs = append(errs, fmt.Sprintf("field %s in EventJson: required", key))
		}
	}
	var event EventJson
	if err := json.Unmarshal(in.Value, &event); err != nil {
		return append(errs, "json.Unmarshal into EventJson: "+err.Error())
	}
	if !md5Pattern.MatchString(event.Md5Hash) {
		errs = append(errs, fmt.Sprintf("md5_hash %q is not 32 hex digits", event.Md5Hash))
	}
	for key, value := range map[string]string{"created_by": event.CreatedBy,
		"event_source": event.EventSource, "event_type": event.EventType} {
		if value == "" {
			errs = append(errs, fmt.Sprintf("field %s in EventJson: empty", key))
		}
	}
	// What the writer promises beyond them.
	if !sourcePattern.MatchString(event.EventSource) {
		errs = append(errs, fmt.Sprintf("event_source %q is not {domain}.{group}.{name}.v{major}", event.EventSource))
	}
	if in.Key != event.Id.String() {
		errs = append(errs, fmt.Sprintf("key %q is not the envelope id %s", in.Key, event.Id))
	}
	if in.Headers["content-type"] != "application/json" || in.Headers["message-type"] != "Event" {
		errs = append(errs, fmt.Sprintf("headers %v lack content-type: application/json or message-type: Event", in.Headers))
	}
	sum := md5.Sum(keys["payload"])
	if hex.EncodeToString(sum[:]) != event.Md5Hash {
		errs = append(errs, fmt.Sprintf("md5_hash %s is not the MD5 of the payload (%x)", event.Md5Hash, sum))
	}
	if event.Payload == nil {
		return append(errs, "no payload object")
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(keys["payload"], &payload); err != nil {
		return append(errs, "payload: "+err.Error())
	}
	// An event type of the service's own has no keys to check.
	wanted := payloadKeys[event.EventType]
	names := make([]string, 0, len(wanted))
	for name := range wanted {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		raw, ok := payload[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("payload of %s lacks %q", event.EventType, name))
			continue
		}
		if problem := kindProblem(wanted[name], raw); problem != "" {
			errs = append(errs, fmt.Sprintf("payload %s.%s: %s", event.EventType, name, problem))
		}
	}
	return errs
}

func kindProblem(kind string, raw json.RawMessage) string {
	var value interface{}
	if err := json.Unmarshal(raw, &value); err != nil {
		return err.Error()
	}
	switch kind {
	case str:
		if _, ok := value.(string); !ok {
			return fmt.Sprintf("%s is not a string", raw)
		}
	case strNil:
		if _, ok := value.(string); !ok && value != nil {
			return fmt.Sprintf("%s is not a string or null", raw)
		}
	case num:
		if _, ok := value.(float64); !ok {
			return fmt.Sprintf("%s is not a number", raw)
		}
	case i16, code:
		// What the middleware's int16 and int fields decode from.
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Sprintf("%s is not an integer", raw)
		}
		if kind == i16 && (n < -32768 || n > 32767) {
			return fmt.Sprintf("%s overflows int16", raw)
		}
	case rfc:
		text, ok := value.(string)
		if !ok {
			return fmt.Sprintf("%s is not a string", raw)
		}
		if _, err := time.Parse(time.RFC3339Nano, text); err != nil {
			return err.Error()
		}
	}
	return ""
}

// envelope builds an EventJson as the middleware does, with md5_hash by the recipe.
func envelope(eventType string, id uuid.UUID, payload map[string]interface{}) EventJson {
	text, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	sum := md5.Sum(text)
	return EventJson{
		CreatedBy:   "orders-service",
		EventSource: "commerce.orders.api.v3",
		EventType:   eventType,
		Id:          id,
		Md5Hash:     hex.EncodeToString(sum[:]),
		Payload:     &payload,
		Timestamp:   time.Date(2026, 3, 15, 9, 26, 53, 123456789, time.UTC),
	}
}

func writeMode() {
	tenant := uuid.MustParse("6f1c58a2-64f4-4d54-9d0c-7a2b1b0f4a10")
	request := uuid.MustParse("0b7c3e5a-1d2f-4a6b-8c9d-0e1f2a3b4c5d")
	message, owner := "nightly import", "acme"
	audit := envelope("audit.log", uuid.MustParse("11111111-1111-4111-8111-111111111111"), map[string]interface{}{
		"jti": "22222222-2222-4222-8222-222222222222", "http_method": "POST",
		"resource": "orders", "endpoint": "/orders/:id", "full_url": "/orders/7?expand=items",
		"source_ip": "10.0.0.7:51234", "user_agent": "go-client/1.0", "subject": "user-1234",
		"payload": map[string]interface{}{"sku": "A-1", "qty": 2}, "status_code": 201,
		"response_payload": nil,
	})
	audit.TenantId, audit.RequestId, audit.Message = tenant, request, &message
	usage := envelope("usage.report", uuid.MustParse("33333333-3333-4333-8333-333333333333"), map[string]interface{}{
		"product_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "memory_mb": 512,
		"start_time": "2026-03-15T09:26:53.12Z", "end_time": "2026-03-15T09:26:53.123456789Z",
		"status": "draft", "user_id": "user-1234", "service_name": "orders",
	})
	usage.TenantId, usage.OwnerId = tenant, &owner
	success := envelope("login.success", uuid.MustParse("44444444-4444-4444-8444-444444444444"), map[string]interface{}{
		"subject": "alice", "cls": "user", "jti": "55555555-5555-4555-8555-555555555555",
		"tenant_id": tenant.String(), "path": "/login", "user_agent": "browser", "remote_addr": "10.0.0.8:1",
	})
	failure := envelope("login.failure", uuid.MustParse("66666666-6666-4666-8666-666666666666"), map[string]interface{}{
		"subject": "", "path": "/login", "user_agent": "browser", "remote_addr": "10.0.0.9:2",
	})
	denied := envelope("authz.denied", uuid.MustParse("77777777-7777-4777-8777-777777777777"), map[string]interface{}{
		"status_code": 403, "subject": "bob", "error": "missing role admin", "path": "/admin",
		"user_agent": "browser", "remote_addr": "10.0.0.10:3",
	})
	// As the middleware itself writes it: created_by and md5_hash left empty.
	bare := envelope("audit.log", uuid.MustParse("88888888-8888-4888-8888-888888888888"), map[string]interface{}{
		"jti": "", "http_method": "GET", "resource": "health", "endpoint": "/health",
		"full_url": "/health", "source_ip": "10.0.0.11:4", "user_agent": "probe",
		"subject": "", "payload": nil, "status_code": 200, "response_payload": nil,
	})
	bare.CreatedBy, bare.Md5Hash = "", ""
	for _, event := range []EventJson{audit, usage, success, failure, denied, bare} {
		value, err := json.Marshal(event)
		if err != nil {
			panic(err)
		}
		line, _ := json.Marshal(map[string]interface{}{"name": event.EventType,
			"key": event.Id.String(), "value": json.RawMessage(value)})
		fmt.Println(string(line))
	}
}
