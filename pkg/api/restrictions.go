package api

import (
	"net/http"
	"strings"

	"github.com/portreqd/portreqd/pkg/porting"
)

// resources are the path segments crossbar would take for its modules'
// names; the segments after one are its parameters.
var resources = map[string]bool{
	"accounts": true, "port_requests": true, "users": true, "phone_numbers": true,
	"port_webhooks": true, "port_notifications": true, "port_deliveries": true,
}

// tokenCall is r as crossbar matches restrictions against it: the last
// resource of the path and the segments after it, the account the path
// names, the method.
func tokenCall(r *http.Request) porting.TokenCall {
	call := porting.TokenCall{Verb: r.Method}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v2"), "/"), "/")
	for i, s := range segs {
		if !resources[s] {
			if call.Endpoint != "" {
				call.Params = append(call.Params, s)
			}
			continue
		}
		if s == "accounts" && i+1 < len(segs) {
			call.Account = segs[i+1]
		}
		call.Endpoint, call.Params = s, []string{}
	}
	return call
}
