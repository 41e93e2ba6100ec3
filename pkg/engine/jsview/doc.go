package jsview

import (
	"github.com/dop251/goja"
)

// The document handed to map functions is not built with JSON.parse and
// then frozen property by property (which took two thirds of the time per
// document): it is parsed in Go (nested arrays and objects only when a
// function reads them, see parseJS) and shown to JavaScript through goja's
// dynamic objects, which convert a member only when it is read. They refuse
// every write, which gives the frozen document's behaviour: assignments and
// deletes are silently ignored, push(), sort() and the other mutating array
// methods throw a TypeError. Members enumerate in JavaScript's order, and the
// same member read twice is the same object. Object.freeze, seal and
// preventExtensions leave them be, and Object.isFrozen, isSealed and
// isExtensible answer as for a frozen object (freezeAware).
//
// What a map function could still tell apart from CouchDB's frozen object:
// property descriptors say writable and configurable, and the TypeError
// messages read differently.

// wrap makes the JavaScript value of one parsed JSON node.
func (m *vm) wrap(v *value) goja.Value {
	if err := v.force(&m.scratch); err != nil {
		panic(m.rt.NewGoError(err)) // thrown into the map function
	}
	switch v.kind {
	case kNull:
		return goja.Null()
	case kTrue:
		return m.rt.ToValue(true)
	case kFalse:
		return m.rt.ToValue(false)
	case kFloat:
		return m.rt.ToValue(v.f)
	case kString:
		return m.rt.ToValue(v.s)
	case kArray:
		return m.rt.NewDynamicArray(&docArray{m: m, v: v, cache: make([]goja.Value, len(v.elems))})
	default:
		return m.rt.NewDynamicObject(&docObject{m: m, v: v, cache: make([]goja.Value, len(v.elems))})
	}
}

// docObject is a read-only JSON object.
type docObject struct {
	m     *vm
	v     *value
	cache []goja.Value
	index map[string]int // built for larger objects on first lookup
}

func (o *docObject) find(key string) int {
	if len(o.v.keys) <= 32 {
		for i, k := range o.v.keys {
			if k == key {
				return i
			}
		}
		return -1
	}
	if o.index == nil {
		o.index = make(map[string]int, len(o.v.keys))
		for i, k := range o.v.keys {
			o.index[k] = i
		}
	}
	if i, ok := o.index[key]; ok {
		return i
	}
	return -1
}

func (o *docObject) Get(key string) goja.Value {
	i := o.find(key)
	if i < 0 {
		return nil
	}
	if o.cache[i] == nil {
		o.cache[i] = o.m.wrap(&o.v.elems[i])
	}
	return o.cache[i]
}

func (o *docObject) Set(string, goja.Value) bool { return false }
func (o *docObject) Has(key string) bool         { return o.find(key) >= 0 }
func (o *docObject) Delete(key string) bool      { return o.find(key) < 0 }
func (o *docObject) Keys() []string              { return o.v.keys }

// docArray is a read-only JSON array.
type docArray struct {
	m     *vm
	v     *value
	cache []goja.Value
}

func (a *docArray) Len() int { return len(a.v.elems) }

func (a *docArray) Get(i int) goja.Value {
	if i < 0 || i >= len(a.v.elems) {
		return nil
	}
	if a.cache[i] == nil {
		a.cache[i] = a.m.wrap(&a.v.elems[i])
	}
	return a.cache[i]
}

func (a *docArray) Set(int, goja.Value) bool { return false }
func (a *docArray) SetLen(int) bool          { return false }

// isDocValue reports whether v is (part of) the document being mapped.
func isDocValue(v goja.Value) bool {
	if o, ok := v.(*goja.Object); ok {
		switch o.Export().(type) {
		case *docObject, *docArray:
			return true
		}
	}
	return false
}

// freezeAware makes Object's freezing functions treat the document as the
// frozen object CouchDB passes: goja's dynamic objects cannot be made
// non-extensible, and Object.freeze(doc) would throw.
func freezeAware(rt *goja.Runtime) {
	object := rt.Get("Object").ToObject(rt)
	wrap := func(name string, doc func(goja.Value) goja.Value) {
		orig, ok := goja.AssertFunction(object.Get(name))
		if !ok {
			return
		}
		object.Set(name, func(call goja.FunctionCall) goja.Value {
			if v := call.Argument(0); isDocValue(v) {
				return doc(v)
			}
			res, err := orig(call.This, call.Arguments...)
			if err != nil {
				panic(err)
			}
			return res
		})
	}
	same := func(v goja.Value) goja.Value { return v }
	yes := func(goja.Value) goja.Value { return rt.ToValue(true) }
	no := func(goja.Value) goja.Value { return rt.ToValue(false) }
	wrap("freeze", same)
	wrap("seal", same)
	wrap("preventExtensions", same)
	wrap("isFrozen", yes)
	wrap("isSealed", yes)
	wrap("isExtensible", no)
}
