package kazoo

import "github.com/portreqd/portreqd/views"

// viewRef names a view this package queries. Every view lives in
// views/portreqd/*.json (package views; portreqd installs them as _design/portreqd); keeping the names here, in
// one list, lets a test prove that each one exists there.
type viewRef struct {
	DB, Design, View string
}

// The views this package queries.
var (
	viewAccountByAPIKey    = viewRef{dbAccounts, "portreqd", "listing_by_api"}
	viewAccountChildren    = viewRef{dbAccounts, "portreqd", "listing_by_children"}
	viewAccountDescendants = viewRef{dbAccounts, "portreqd", "listing_by_descendants"}
	viewAccountSuperDuper  = viewRef{dbAccounts, "portreqd", "listing_by_superduper_admin"}
	viewAccountByRealm     = viewRef{dbAccounts, "portreqd", "listing_by_realm"}
	viewAccountByName      = viewRef{dbAccounts, "portreqd", "listing_by_name"}

	viewRequestsByState           = viewRef{dbPortRequests, "portreqd", "listing_by_state"}
	viewRequestsByDescendantState = viewRef{dbPortRequests, "portreqd", "listing_by_descendant_state"}
	viewRequestsByAuthorityState  = viewRef{dbPortRequests, "portreqd", "listing_by_authority_state"}
	viewRequestsByNumber          = viewRef{dbPortRequests, "portreqd", "listing_by_number"}
	viewCompletionIntents         = viewRef{dbPortRequests, "portreqd", "completion_intents"}
	viewPortInNumbers             = viewRef{dbPortRequests, "portreqd", "all_port_in_numbers"}
	viewActivePortInNumbers       = viewRef{dbPortRequests, "portreqd", "port_in_numbers"}
	viewOutbox                    = viewRef{dbPortRequests, "portreqd", "outbox"}

	viewDeliveriesDue       = viewRef{dbDeliveries, "portreqd", "due"}
	viewDeliveriesByChannel = viewRef{dbDeliveries, "portreqd", "by_channel"}
	viewDeliveriesByState   = viewRef{dbDeliveries, "portreqd", "by_state"}
	viewWebhooksByAccount   = viewRef{dbWebhooks, "portreqd", "by_account"}
)

// The views this package queries in databases of a class (DB is the
// class, views/portreqd/class), installed there on first use
// (ensureOwnDesign).
var (
	viewUsersByPrivLevel = viewRef{views.ClassAccount, "portreqd", "users_by_priv_level"}
	viewUsers            = viewRef{views.ClassAccount, "portreqd", "users"}
	viewUsersByUsername  = viewRef{views.ClassAccount, "portreqd", "users_by_username"}
	viewUsersByMD5       = viewRef{views.ClassAccount, "portreqd", "users_by_md5"}
	viewUsersBySHA1      = viewRef{views.ClassAccount, "portreqd", "users_by_sha1"}
)

// classViewsUsed lists every view above.
var classViewsUsed = []viewRef{viewUsersByPrivLevel, viewUsers, viewUsersByUsername, viewUsersByMD5, viewUsersBySHA1}

// viewsUsed lists every view above.
var viewsUsed = []viewRef{
	viewAccountByAPIKey, viewAccountChildren, viewAccountDescendants, viewAccountSuperDuper, viewAccountByRealm, viewAccountByName,
	viewRequestsByState, viewRequestsByDescendantState, viewRequestsByAuthorityState, viewRequestsByNumber, viewCompletionIntents, viewPortInNumbers,
	viewActivePortInNumbers, viewOutbox, viewDeliveriesDue, viewDeliveriesByChannel, viewDeliveriesByState, viewWebhooksByAccount,
}
