package porting

import (
	"encoding/json"
	"fmt"
	"strings"
)

// requestReadOnly lists members clients echo back (Monster UI sends the whole
// object it read) that the server computes and ignores on input.
var requestReadOnly = map[string]bool{
	"id": true, "created": true, "updated": true, "port_state": true, "sent": true,
	"uploads": true, "_read_only": true, "account_id": true, "account_name": true,
}

// requestInput is a validated client body.
type requestInput struct {
	public Fields
	// asSent maps each normalized number to the key the client sent, so
	// that number errors are keyed as the client knows the number.
	asSent map[string]string
}

// validateRequest checks a port request body against the schema and
// normalizes its number keys. Read-only and private members are dropped.
func validateRequest(data Fields) (*requestInput, error) {
	public := clientFields(data, requestReadOnly)
	if err := checkRequestName(public); err != nil {
		return nil, err
	}
	numbers, asSent, err := normalizeNumbers(public["numbers"])
	if err != nil {
		return nil, err
	}
	public.Set("numbers", numbers)
	for _, c := range []struct {
		field, typ string
	}{
		{"bill", "object"}, {"notifications", "object"}, {"carrier", "string"},
		{"transfer_date", "number"}, {"scheduled_date", "number"}, {"comments", "array"},
	} {
		if raw, ok := public[c.field]; ok && !isNull(raw) && jsonType(raw) != c.typ {
			return nil, typeError(c.field, c.typ, raw)
		}
	}
	if err := checkBill(public["bill"]); err != nil {
		return nil, err
	}
	if err := checkNotifications(public["notifications"]); err != nil {
		return nil, err
	}
	return &requestInput{public: public, asSent: asSent}, nil
}

func checkRequestName(public Fields) error {
	raw, ok := public["name"]
	if !ok || isNull(raw) {
		return ValidationError("name", "required", "Field is required but missing", nil)
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return typeError("name", "string", raw)
	}
	return checkName(name)
}

func normalizeNumbers(raw json.RawMessage) (map[string]json.RawMessage, map[string]string, error) {
	if isNull(raw) {
		return nil, nil, ValidationError("numbers", "required", "Field is required but missing", nil)
	}
	var in map[string]json.RawMessage
	if jsonType(raw) != "object" || json.Unmarshal(raw, &in) != nil {
		return nil, nil, typeError("numbers", "object", raw)
	}
	if len(in) == 0 {
		return nil, nil, ValidationError("numbers", "minProperties", "Object must have at least 1 properties",
			map[string]any{"target": 1})
	}
	out := make(map[string]json.RawMessage, len(in))
	asSent := make(map[string]string, len(in))
	for key, v := range in {
		e164, ok := NormalizeNumber(key)
		if !ok {
			return nil, nil, ValidationError("numbers", "pattern",
				fmt.Sprintf("%q is not a phone number: expected E.164 (+ and 8 to 15 digits) or 10 NANP digits", key),
				map[string]any{"cause": key})
		}
		if prev, dup := asSent[e164]; dup {
			return nil, nil, ValidationError("numbers", "uniqueItems",
				fmt.Sprintf("%q and %q are the same number %s", prev, key, e164), map[string]any{"cause": key})
		}
		if isNull(v) {
			v = json.RawMessage("{}")
		} else if jsonType(v) != "object" {
			return nil, nil, typeError("numbers."+key, "object", v)
		}
		out[e164] = v
		asSent[e164] = key
	}
	return out, asSent, nil
}

// billStrings are the bill members the schema types as strings.
var billStrings = []string{"name", "address", "street_address", "extended_address", "locality",
	"region", "postal_code", "country", "account_number", "pin", "btn", "carrier"}

func checkBill(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var bill Fields
	_ = json.Unmarshal(raw, &bill)
	for _, k := range billStrings {
		if v, ok := bill[k]; ok && !isNull(v) && jsonType(v) != "string" {
			return typeError("bill."+k, "string", v)
		}
	}
	return nil
}

func checkNotifications(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var n struct {
		Email *struct {
			SendTo json.RawMessage `json:"send_to"`
		} `json:"email"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return typeError("notifications.email", "object", raw)
	}
	if n.Email == nil || isNull(n.Email.SendTo) {
		return nil
	}
	switch jsonType(n.Email.SendTo) {
	case "string":
		return nil
	case "array":
		var all []string
		if json.Unmarshal(n.Email.SendTo, &all) == nil {
			return nil
		}
	}
	return typeError("notifications.email.send_to", "string or array of strings", n.Email.SendTo)
}

func typeError(field, typ string, raw json.RawMessage) *Error {
	return ValidationError(field, "type", "Value did not match type(s): "+typ,
		map[string]any{"value": json.RawMessage(strings.TrimSpace(string(raw)))})
}
