package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
)

// contentTypeJSON is sent exactly, errors included: Monster UI parses error
// bodies only when Content-Type is this string, with no charset parameter.
const contentTypeJSON = "application/json"

// reply is what a JSON handler returns; the adapter wraps it in Kazoo's
// envelope. A nil reply means the handler wrote the response itself.
type reply struct {
	status   int // 0 means 200
	data     any
	revision string
	authTok  string // overrides the caller's token (api_auth issues one)
	paging   *paging
}

// paging carries the listing members of the envelope.
type paging struct {
	pageSize     int
	startKey     any
	nextStartKey any
}

// envelope is Kazoo's response body. Members are ordered as Crossbar writes
// them (alphabetically); optional ones are omitted when empty.
type envelope struct {
	AuthToken    string `json:"auth_token"`
	Data         any    `json:"data"`
	Error        string `json:"error,omitempty"`
	Message      string `json:"message,omitempty"`
	NextStartKey any    `json:"next_start_key,omitempty"`
	PageSize     *int   `json:"page_size,omitempty"`
	RequestID    string `json:"request_id"`
	Revision     string `json:"revision,omitempty"`
	StartKey     any    `json:"start_key,omitempty"`
	Status       string `json:"status"`
}

// errorStatus is the only table from error kind to HTTP status.
var errorStatus = map[porting.Kind]int{
	porting.KindInternal:         http.StatusInternalServerError,
	porting.KindInvalidJSON:      http.StatusBadRequest,
	porting.KindValidation:       http.StatusBadRequest,
	porting.KindInvalidRequest:   http.StatusInternalServerError,
	porting.KindUnauthorized:     http.StatusUnauthorized,
	porting.KindForbidden:        http.StatusForbidden,
	porting.KindNotFound:         http.StatusNotFound,
	porting.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	porting.KindNotAcceptable:    http.StatusNotAcceptable,
	porting.KindPaymentRequired:  http.StatusPaymentRequired,
	porting.KindConflict:         http.StatusConflict,
	porting.KindTooLarge:         http.StatusRequestEntityTooLarge,
	porting.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	porting.KindUnavailable:      http.StatusServiceUnavailable,
	porting.KindTimeout:          http.StatusRequestTimeout,
	porting.KindTooManyRequests:  http.StatusTooManyRequests,
	porting.KindLocked:           http.StatusLocked,
	porting.KindUnprocessable:    http.StatusUnprocessableEntity,
}

// streamed is data written to the client as it is read, not held whole:
// an unpaginated listing can be thousands of rows. WriteJSON returns the
// rows it wrote, which is the listing's page_size.
type streamed interface {
	WriteJSON(ctx context.Context, w io.Writer) (int, error)
}

// writeReply writes a success envelope.
func writeReply(w http.ResponseWriter, r *http.Request, rp *reply) {
	status := rp.status
	if status == 0 {
		status = http.StatusOK
	}
	env := successEnvelope(w, r, rp)
	if s, ok := rp.data.(streamed); ok {
		writeStream(w, r, status, env, s)
		return
	}
	writeJSON(w, r, status, env)
}

// successEnvelope is the envelope of rp, its paging members included (a
// streamed listing's page_size is set once it is written); it sets the
// ETag of a revision.
func successEnvelope(w http.ResponseWriter, r *http.Request, rp *reply) envelope {
	env := envelope{
		AuthToken: authToken(r),
		Data:      nonNil(rp.data),
		RequestID: requestID(r),
		Revision:  rp.revision,
		Status:    "success",
	}
	if rp.authTok != "" {
		env.AuthToken = rp.authTok
	}
	if rp.revision != "" {
		w.Header().Set("ETag", `"`+rp.revision+`"`)
	}
	if env.Revision == "" {
		env.Revision = "undefined"
	}
	if p := rp.paging; p != nil {
		n := p.pageSize
		env.PageSize = &n
		env.StartKey = p.startKey
		env.NextStartKey = p.nextStartKey
	}
	return env
}

// writeStream writes env with its data streamed: the envelope's members
// before data, the rows as they are read, then the members after, with
// page_size the rows written. An answer that ends within streamHold bytes
// (a page) goes out whole with its Content-Length, as any other; a longer
// one goes out as it is written, holding streamHold bytes at most. The
// status line goes out with the first bytes sent, so an error before them
// is answered as any error is; one after them aborts the connection, and
// the client sees a truncated answer rather than a successful one that
// lacks rows.
func writeStream(w http.ResponseWriter, r *http.Request, status int, env envelope, s streamed) {
	w.Header().Set("Content-Type", contentTypeJSON)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	buf := bodyBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledBody {
			bodyBuffers.Put(buf)
		}
	}()
	sink := &holdBack{w: w, status: status, buf: env.appendHead((*buf)[:0])}
	n, err := s.WriteJSON(r.Context(), sink)
	*buf = sink.buf[:0]
	if err != nil {
		if !sink.started {
			writeError(w, r, err)
			return
		}
		if info := infoFrom(r); info != nil {
			info.err = err
		}
		panic(http.ErrAbortHandler)
	}
	if env.PageSize != nil {
		env.PageSize = &n
	}
	if sink.buf, err = env.appendTail(sink.buf); err != nil {
		panic(http.ErrAbortHandler) // a start key that is not JSON: cannot happen after a read
	}
	sink.buf = append(sink.buf, '\n')
	*buf = sink.buf[:0]
	if !sink.started {
		w.Header().Set("Content-Length", strconv.Itoa(len(sink.buf)))
		w.WriteHeader(status)
	}
	_, _ = w.Write(sink.buf)
}

// streamHold is how much of a streamed answer is held before it starts
// going out: more than a 50-row page, which then goes out in one write.
const streamHold = 128 << 10

// holdBack holds what is written to it until streamHold bytes, then sends
// the status line and everything held, and from then on sends whatever
// it holds each time it passes streamHold again.
type holdBack struct {
	w       http.ResponseWriter
	status  int
	buf     []byte
	started bool
}

func (h *holdBack) Write(b []byte) (int, error) {
	h.buf = append(h.buf, b...)
	if len(h.buf) < streamHold {
		return len(b), nil
	}
	if !h.started {
		h.started = true
		h.w.WriteHeader(h.status)
	}
	_, err := h.w.Write(h.buf)
	h.buf = h.buf[:0]
	return len(b), err
}

// writeError writes an error envelope whose HTTP status equals its error.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *porting.Error
	if !errors.As(err, &de) {
		de = porting.Wrap(porting.KindInternal, "internal error", err)
	}
	status, ok := errorStatus[de.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	if info := infoFrom(r); info != nil {
		info.err = err
	}
	data := de.Data
	if data == nil {
		data = map[string]any{}
		if de.Kind == porting.KindInternal || de.Kind == porting.KindUnavailable {
			data = map[string]any{"message": de.Message}
		}
	}
	writeJSON(w, r, status, envelope{
		AuthToken: authToken(r),
		Data:      data,
		Error:     strconv.Itoa(status),
		Message:   de.Message,
		RequestID: requestID(r),
		Status:    "error",
	})
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, env envelope) {
	buf := bodyBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledBody {
			bodyBuffers.Put(buf)
		}
	}()
	body, err := env.append((*buf)[:0])
	*buf = body
	if err != nil { // a value that cannot be JSON: a bug, answered as one
		body, _ = envelope{AuthToken: env.AuthToken, Data: map[string]any{"message": "internal error"},
			Error: "500", Message: "internal error", RequestID: env.RequestID, Status: "error"}.append(nil)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	body = append(body, '\n')
	*buf = body
	_, _ = w.Write(body)
}

// bodyBuffers recycles answer buffers: a 50-row page is ~60 KB, and growing
// a fresh buffer to that for every answer was a tenth of a page's CPU
// (profiled), most of it allocation and the collections it caused. Write
// copies the bytes out before the buffer goes back.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBody keeps the rare huge answer (an unpaginated listing) from
// pinning its buffer.
const maxPooledBody = 1 << 20

// append writes the envelope with its members in Crossbar's (alphabetical)
// order; data goes through appendData.
func (e envelope) append(b []byte) ([]byte, error) {
	b = e.appendHead(b)
	var err error
	if b, err = appendData(b, e.Data); err != nil {
		return nil, err
	}
	return e.appendTail(b)
}

// appendHead writes the envelope up to its data.
func (e envelope) appendHead(b []byte) []byte {
	b = append(b, `{"auth_token":`...)
	b = rawjson.AppendString(b, e.AuthToken)
	return append(b, `,"data":`...)
}

// appendTail writes the envelope's members after its data.
func (e envelope) appendTail(b []byte) ([]byte, error) {
	var err error
	if e.Error != "" {
		b = append(b, `,"error":`...)
		b = rawjson.AppendString(b, e.Error)
	}
	if e.Message != "" {
		b = append(b, `,"message":`...)
		b = rawjson.AppendString(b, e.Message)
	}
	if e.NextStartKey != nil {
		b = append(b, `,"next_start_key":`...)
		if b, err = appendData(b, e.NextStartKey); err != nil {
			return nil, err
		}
	}
	if e.PageSize != nil {
		b = append(b, `,"page_size":`...)
		b = strconv.AppendInt(b, int64(*e.PageSize), 10)
	}
	b = append(b, `,"request_id":`...)
	b = rawjson.AppendString(b, e.RequestID)
	if e.Revision != "" {
		b = append(b, `,"revision":`...)
		b = rawjson.AppendString(b, e.Revision)
	}
	if e.StartKey != nil {
		b = append(b, `,"start_key":`...)
		if b, err = appendData(b, e.StartKey); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"status":`...)
	b = rawjson.AppendString(b, e.Status)
	return append(b, '}'), nil
}

// nonNil keeps `data` from ever being JSON null.
func nonNil(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}
