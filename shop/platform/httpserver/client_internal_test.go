package httpserver

import "testing"

func TestClientKey(t *testing.T) {
	tests := map[string]struct{ ip, want string }{
		"an IPv4 address is itself":                       {"203.0.113.7", "203.0.113.7"},
		"an IPv4-mapped IPv6 address is the IPv4 client":  {"::ffff:203.0.113.7", "203.0.113.7"},
		"an IPv6 address is its /64":                      {"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		"another address of the same /64 is the same key": {"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		"the next /64 is another key":                     {"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		"loopback IPv6 is its /64":                        {"::1", "::/64"},
		"a zone is dropped":                               {"fe80::1%eth0", "fe80::/64"},
		"what is no address is kept as is":                {"", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := clientKey(tt.ip); got != tt.want {
				t.Errorf("clientKey(%q) = %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
}
