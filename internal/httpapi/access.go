package httpapi

import "github.com/sluice-dev/sluice/internal/access"

// Access is who may use the node beside its own pages (package access).
type Access = access.Access

type hostRule = access.HostRule

func hostRules(patterns []string) ([]hostRule, error) { return access.HostRules(patterns) }
func hostAllowed(rules []hostRule, host string) bool  { return access.HostAllowed(rules, host) }
func parseOrigins(list []string) ([]string, error)    { return access.ParseOrigins(list) }

// ParseHostPattern and ParseOrigin check one entry of http.hosts and of
// the origin lists (package access).
var (
	ParseHostPattern = access.ParseHostPattern
	ParseOrigin      = access.ParseOrigin
)
