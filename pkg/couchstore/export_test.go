package couchstore

// ViewRef and ViewsUsed let the external tests check the view names.
type ViewRef = viewRef

// ViewsUsed is every view the package queries.
var ViewsUsed = viewsUsed
