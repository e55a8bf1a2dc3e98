package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// TOTP secrets are stored sealed (README, "Admin sign-in"): AES-256-GCM
// under a key derived with HKDF-SHA256 from TOTP_KEY, a random 96-bit nonce per value, and
// the account id as additional data, so that a sealed value copied to another account's
// row does not open. A stored value reads
//
//	gcm1:<key id: 8 hex digits>:<base64url of nonce || ciphertext || tag>
//
// where the key id (the first 4 bytes of SHA-256 of the derived key) says which key
// sealed it. TOTP_KEY_PREVIOUS still opens values while a rotation is under way; every
// value is sealed with TOTP_KEY (Service.ResealTOTP moves the old ones at start).
const sealPrefix = "gcm1:"

// MinTOTPKeyLength is the shortest TOTP_KEY accepted.
const MinTOTPKeyLength = 32

// totpKeyInfo is the HKDF info of the sealing key.
const totpKeyInfo = "storefront totp secret v1"

// sealKey is one AES-256-GCM key and its id.
type sealKey struct {
	id   string
	aead cipher.AEAD
}

func newSealKey(material string) (sealKey, error) {
	key, err := hkdf.Key(sha256.New, []byte(material), nil, totpKeyInfo, 32)
	if err != nil {
		return sealKey{}, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealKey{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealKey{}, err
	}
	sum := sha256.Sum256(key)
	return sealKey{id: hex.EncodeToString(sum[:4]), aead: aead}, nil
}

// totpBox seals and opens TOTP secrets.
type totpBox struct {
	current sealKey
	// keys open values: the current key first, then the previous one.
	keys []sealKey
}

// newTOTPBox returns the box of key (TOTP_KEY) that also opens what the previous keys
// sealed (TOTP_KEY_PREVIOUS; empty ones are skipped).
func newTOTPBox(key string, previous ...string) (*totpBox, error) {
	if len(key) < MinTOTPKeyLength {
		return nil, fmt.Errorf("auth: the TOTP key must have at least %d characters", MinTOTPKeyLength)
	}
	cur, err := newSealKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: the TOTP key: %w", err)
	}
	b := &totpBox{current: cur, keys: []sealKey{cur}}
	for _, p := range previous {
		if p == "" || p == key {
			continue
		}
		prev, err := newSealKey(p)
		if err != nil {
			return nil, fmt.Errorf("auth: a previous TOTP key: %w", err)
		}
		b.keys = append(b.keys, prev)
	}
	return b, nil
}

func additionalData(userID int64) []byte { return []byte("totp:" + strconv.FormatInt(userID, 10)) }

// seal returns secret sealed for account userID ("" stays "").
func (b *totpBox) seal(userID int64, secret string) (string, error) {
	if secret == "" {
		return "", nil
	}
	nonce := make([]byte, b.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.current.aead.Seal(nonce, nonce, []byte(secret), additionalData(userID))
	return sealPrefix + b.current.id + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// errUnsealed refuses a stored secret that is not sealed, or sealed with a key the shop
// no longer has.
var errUnsealed = errors.New("a stored TOTP secret does not open with TOTP_KEY or TOTP_KEY_PREVIOUS")

// open returns the secret of stored, and whether it was sealed with the current key
// ("" opens to "").
func (b *totpBox) open(userID int64, stored string) (secret string, current bool, err error) {
	if stored == "" {
		return "", true, nil
	}
	rest, ok := strings.CutPrefix(stored, sealPrefix)
	if !ok && isBase32Secret(stored) {
		// Stored in the clear before secrets were sealed: readable, and resealed by
		// ResealTOTP.
		return stored, false, nil
	}
	id, payload, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return "", false, errUnsealed
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false, errUnsealed
	}
	for i, k := range b.keys {
		if k.id != id || len(raw) < k.aead.NonceSize() {
			continue
		}
		plain, err := k.aead.Open(nil, raw[:k.aead.NonceSize()], raw[k.aead.NonceSize():], additionalData(userID))
		if err == nil {
			return string(plain), i == 0, nil
		}
	}
	return "", false, errUnsealed
}

// sealedStore seals the TOTP secrets on their way to the store and opens them on their
// way back; Account.sealedPending keeps the stored pending value for EnableTOTP's
// comparison (a new seal of the same secret differs: the nonce is random).
type sealedStore struct {
	Store
	box *totpBox
}

func (s sealedStore) opened(a Account, err error) (Account, error) {
	if err != nil {
		return a, err
	}
	a.sealedPending = a.TOTPPendingSecret
	if a.TOTPSecret, _, err = s.box.open(a.ID, a.TOTPSecret); err != nil {
		return Account{}, fmt.Errorf("account %d: %w", a.ID, err)
	}
	if a.TOTPPendingSecret, _, err = s.box.open(a.ID, a.TOTPPendingSecret); err != nil {
		return Account{}, fmt.Errorf("account %d: %w", a.ID, err)
	}
	return a, nil
}

func (s sealedStore) UserByEmail(ctx context.Context, email string) (Account, error) {
	return s.opened(s.Store.UserByEmail(ctx, email))
}

func (s sealedStore) UserByID(ctx context.Context, id int64) (Account, error) {
	return s.opened(s.Store.UserByID(ctx, id))
}

func (s sealedStore) SetPendingTOTP(ctx context.Context, id int64, secret string) error {
	sealed, err := s.box.seal(id, secret)
	if err != nil {
		return err
	}
	return s.Store.SetPendingTOTP(ctx, id, sealed)
}

// isBase32Secret reports whether v is a secret as BeginTOTP made them before sealing:
// unpadded base32 (a sealed value has a colon, which base32 has not).
func isBase32Secret(v string) bool {
	for _, r := range v {
		if (r < 'A' || r > 'Z') && (r < '2' || r > '7') {
			return false
		}
	}
	return v != ""
}

// ResealTOTP seals every stored TOTP secret with the current TOTP_KEY: the values of
// TOTP_KEY_PREVIOUS and those stored in the clear before secrets were sealed. A value
// that opens with neither key is an error (the shop was given the wrong keys). It
// returns how many accounts it resealed; serve runs it at start (there are as many rows
// as admins with a second factor).
func (s *Service) ResealTOTP(ctx context.Context) (int, error) {
	sealed, ok := s.store.(sealedStore)
	if !ok {
		return 0, nil
	}
	rows, err := sealed.Store.TOTPSecrets(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the TOTP secrets: %w", err)
	}
	n := 0
	for _, r := range rows {
		secret, cur1, err := sealed.box.open(r.ID, r.Secret)
		if err != nil {
			return n, fmt.Errorf("account %d: %w", r.ID, err)
		}
		pending, cur2, err := sealed.box.open(r.ID, r.Pending)
		if err != nil {
			return n, fmt.Errorf("account %d: %w", r.ID, err)
		}
		if cur1 && cur2 {
			continue
		}
		next := r
		if next.Secret, err = sealed.box.seal(r.ID, secret); err != nil {
			return n, err
		}
		if next.Pending, err = sealed.box.seal(r.ID, pending); err != nil {
			return n, err
		}
		err = sealed.Store.ReplaceTOTPSecrets(ctx, r, next)
		if errors.Is(err, apperr.ErrConflict) {
			// Changed meanwhile: by another replica starting, or by an enrolment,
			// and sealed with the current key either way.
			continue
		}
		if err != nil {
			return n, fmt.Errorf("account %d: %w", r.ID, err)
		}
		n++
	}
	return n, nil
}
