package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type body struct {
	Alt  float64 `json:"alt"`
	Name string  `json:"name"`
}

func TestDecodeJSONNamesWhatIsWrong(t *testing.T) {
	cases := []struct {
		name, body, wantField, wantText string
		wantCode                        string
	}{
		{"empty body", "", "", "empty", CodeInvalid},
		{"truncated", `{"alt": 1`, "", "ends in the middle", CodeInvalid},
		{"syntax", `{"alt": 1,,}`, "", "byte", CodeInvalid},
		{"wrong type", `{"alt": "high"}`, "alt", "want float64", CodeInvalid},
		{"unknown field", `{"altitude": 10}`, "altitude", "unknown field", CodeInvalid},
		{"trailing data", `{"alt": 1} {"alt": 2}`, "", "after the JSON value", CodeInvalid},
		{"too large", `{"name": "` + strings.Repeat("x", 200) + `"}`, "", "larger than", CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
			var b body
			err := DecodeJSON(r, &b, 100)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Code != c.wantCode || e.Field != c.wantField || !strings.Contains(e.Message, c.wantText) {
				t.Fatalf("got code=%q field=%q msg=%q; want code=%q field=%q text %q", e.Code, e.Field, e.Message, c.wantCode, c.wantField, c.wantText)
			}
		})
	}
}

func TestDecodeJSONAcceptsValidBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"alt": 30, "name": "a"}`))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	var b body
	if err := DecodeJSON(r, &b, 1000); err != nil {
		t.Fatal(err)
	}
	if b.Alt != 30 || b.Name != "a" {
		t.Fatalf("decoded %+v", b)
	}
}

func TestWriteErrorMapsCodesToStatus(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{Invalid("alt", "must be positive"), 400, CodeInvalid},
		{NotFound("vehicle %q", "x"), 404, CodeNotFound},
		{New(CodeRefused, "denied"), 422, CodeRefused},
		{errors.New("boom"), 500, CodeInternal},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		WriteError(w, httptest.NewRequest("GET", "/", nil), nil, c.err)
		if w.Code != c.status {
			t.Errorf("%v: status %d, want %d", c.err, w.Code, c.status)
		}
		var got struct{ Error Error }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Error.Code != c.code {
			t.Errorf("%v: body %s (err %v), want code %q", c.err, w.Body, err, c.code)
		}
	}
}

func TestDecodeJSONContentTypes(t *testing.T) {
	for ct, wantErr := range map[string]bool{
		"":                                  false,
		"application/json":                  false,
		"application/x-www-form-urlencoded": false, // what curl -d sends
		"text/xml":                          true,
		"multipart/form-data; boundary=x":   true,
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"alt": 1}`))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		var b body
		err := DecodeJSON(r, &b, 100)
		var e *Error
		if wantErr != (err != nil) || wantErr && (!errors.As(err, &e) || e.Code != CodeUnsupported) {
			t.Errorf("content type %q: err %v", ct, err)
		}
	}
}
