package invocation

import (
	"encoding/json"
)

// LambdaError reads the body of a Runtime API error (/invocation/{id}/error,
// /init/error): {"errorMessage", "errorType", "stackTrace"}; the type may
// also come in the Lambda-Runtime-Function-Error-Type header. A body that
// is not that JSON is kept as the message (its first 2 KiB).
func LambdaError(body []byte, headerType string) *Error {
	var e struct {
		Message *string           `json:"errorMessage"`
		Type    string            `json:"errorType"`
		Stack   []json.RawMessage `json:"stackTrace"`
	}
	out := &Error{Type: headerType}
	if json.Unmarshal(body, &e) != nil || e.Message == nil && e.Type == "" {
		out.Message = cut(string(body), 2<<10)
		if out.Message == "" {
			out.Message = "(no message)"
		}
		return out
	}
	if e.Message != nil {
		out.Message = *e.Message
	}
	if e.Type != "" {
		out.Type = e.Type
	}
	out.Stack = stackStrings(e.Stack)
	bound(out)
	return out
}
