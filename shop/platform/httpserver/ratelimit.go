package httpserver

import (
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// maxLimitedClients bounds the clients a ClientLimiter remembers: an attacker with many
// addresses must not grow the table without end. When it is full, idle clients are
// forgotten, and if all are busy, the table starts over (a client's burst is then
// available again, which bounds the harm at one burst per client per reset).
const maxLimitedClients = 100_000

// ClientLimiter is a token bucket per client (ClientKey) in this replica: Rate requests a
// second, bursts of Burst. A shop of n replicas behind a load balancer lets a client make
// about n times as many; the limit is there to bound the work one client can buy, not to
// count exactly.
type ClientLimiter struct {
	rate  rate.Limit
	burst int
	what  string
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// NewClientLimiter allows each client perSecond requests a second and bursts of burst;
// what names the requests in the 429's message ("searches").
func NewClientLimiter(perSecond float64, burst int, what string) *ClientLimiter {
	return &ClientLimiter{rate: rate.Limit(perSecond), burst: burst, what: what, now: time.Now, clients: map[string]*rate.Limiter{}}
}

// Allow takes a token for client, or says how long until one is there.
func (l *ClientLimiter) Allow(client string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= maxLimitedClients {
			l.forgetIdle(now)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.clients[client] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// forgetIdle drops the clients whose bucket is full again (they are as good as new).
func (l *ClientLimiter) forgetIdle(now time.Time) {
	for k, lim := range l.clients {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= maxLimitedClients {
		l.clients = map[string]*rate.Limiter{}
	}
}

// Handler refuses a request past its client's limit with 429 and Retry-After, through
// the error path of the API (problem) or of the pages (HTML), whichever renders it.
func (l *ClientLimiter) Handler(c *gin.Context) {
	if ok, wait := l.Allow(ClientKey(c)); !ok {
		Fail(c, &apperr.ThrottledError{What: l.what + " from this address", RetryAfter: wait})
		return
	}
	c.Next()
}
