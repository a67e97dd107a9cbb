package invocation

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Firehose's transformation results.
const (
	firehoseOk      = "Ok"
	firehoseDropped = "Dropped"
	firehoseFailed  = "ProcessingFailed"
)

// encodeFirehose writes a batch as a Firehose transformation event: each
// event a record whose id is its index and whose data is its JSON.
func encodeFirehose(name string, events []json.RawMessage) []byte {
	type record struct {
		RecordID string `json:"recordId"`
		Arrival  int64  `json:"approximateArrivalTimestamp"`
		Data     string `json:"data"`
	}
	now := time.Now().UnixMilli()
	recs := make([]record, len(events))
	for i, e := range events {
		recs[i] = record{RecordID: strconv.Itoa(i), Arrival: now, Data: base64.StdEncoding.EncodeToString(e)}
	}
	return mustJSON(struct {
		InvocationID string   `json:"invocationId"`
		Stream       string   `json:"deliveryStreamArn"`
		Region       string   `json:"region"`
		Records      []record `json:"records"`
	}{uuid.NewString(), "arn:aws:firehose:sluice:000000000000:deliverystream/" + name, "sluice", recs})
}

// decodeFirehose reads a Firehose transformation answer for n records:
// every recordId once. Ok data is one or more JSON values (concatenated
// or one per line); data that is not JSON is that event's error.
func decodeFirehose(body []byte, n int) ([]eventResult, error) {
	var a struct {
		Records []struct {
			RecordID *string `json:"recordId"`
			Result   string  `json:"result"`
			Data     string  `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("the answer is not the JSON of a Firehose transformation answer {\"records\": [...]}: %w (it begins %s)", err, quoteStart(body, 120))
	}
	if len(a.Records) != n {
		return nil, fmt.Errorf("the answer has %d records for %d: want every recordId once", len(a.Records), n)
	}
	out := make([]eventResult, n)
	seen := make([]bool, n)
	for i, r := range a.Records {
		if r.RecordID == nil {
			return nil, fmt.Errorf("records[%d]: recordId is required", i)
		}
		k, err := strconv.Atoi(*r.RecordID)
		if err != nil || k < 0 || k >= n || strconv.Itoa(k) != *r.RecordID {
			return nil, fmt.Errorf("records[%d].recordId: %q is not one of the invocation's", i, *r.RecordID)
		}
		if seen[k] {
			return nil, fmt.Errorf("records[%d].recordId: %q answered twice", i, *r.RecordID)
		}
		seen[k] = true
		switch r.Result {
		case firehoseOk:
			outs, err := firehoseOutputs(r.Data)
			if err != nil {
				out[k].err = &Error{Type: "Sluice.InvalidOutput", Message: "result Ok: " + err.Error()}
				continue
			}
			out[k].outputs = outs
		case firehoseDropped:
			out[k].outputs = []json.RawMessage{}
		case firehoseFailed:
			msg := "the function answered ProcessingFailed"
			if d, err := base64.StdEncoding.DecodeString(r.Data); err == nil && len(d) > 0 {
				msg += ": " + cut(string(d), 2<<10)
			}
			out[k].err = &Error{Type: firehoseFailed, Message: msg}
		default:
			return nil, fmt.Errorf("records[%d].result: %q: want Ok, Dropped or ProcessingFailed", i, r.Result)
		}
	}
	return out, nil
}

func firehoseOutputs(data string) ([]json.RawMessage, error) {
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("data is not base64: %w", err)
	}
	outs := []json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return outs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("data is not JSON (one value, or several one per line): %w (it begins %s)", err, quoteStart(raw, 80))
		}
		outs = append(outs, compact(v))
	}
}
