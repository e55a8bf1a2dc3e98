package httpserver

import (
	"net/netip"

	"github.com/gin-gonic/gin"
)

// ClientKey names the caller for throttling and rate limits: its address as the router
// resolves it (X-Forwarded-For only from TRUSTED_PROXIES), with an IPv6 address cut to
// its /64. One IPv6 subscriber or host usually holds a whole /64, so counting per
// address would let a client rotate through 2^64 of them.
func ClientKey(c *gin.Context) string { return clientKey(c.ClientIP()) }

func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap() // ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
