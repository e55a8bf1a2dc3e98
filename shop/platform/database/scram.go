package database

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// A role's password is set as the SCRAM-SHA-256 verifier PostgreSQL would store for it,
// computed here: PostgreSQL stores a string already in that format as is ("If the
// presented password string is already in MD5-encrypted or SCRAM-encrypted format, then
// it is stored as-is", CREATE ROLE), so the password itself never reaches the server,
// where log_statement, pg_stat_statements or an error report would keep the statement.

// The verifier's parameters are PostgreSQL's defaults: src/include/common/scram-common.h
// (SCRAM_SHA_256_DEFAULT_ITERATIONS, SCRAM_DEFAULT_SALT_LEN).
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

// Bounds of an application role's password. The operator generates 32 alphanumerics;
// printable ASCII without spaces keeps the password intact in a URL, a file and an
// environment variable, and is its own SASLprep normalisation (PostgreSQL's pg_saslprep
// returns pure ASCII unchanged, src/common/saslprep.c), so the verifier computed here is
// the one the server would compute.
const (
	minPasswordLen = 16
	maxPasswordLen = 256
)

// CheckPassword says whether password can be an application role's password.
func CheckPassword(password string) error {
	if n := len(password); n < minPasswordLen || n > maxPasswordLen {
		return fmt.Errorf("the application role's password has %d characters, want %d to %d", n, minPasswordLen, maxPasswordLen)
	}
	for i := 0; i < len(password); i++ {
		if c := password[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("the application role's password has a character that is not printable ASCII at position %d", i+1)
		}
	}
	return nil
}

// ScramVerifier returns the SCRAM-SHA-256 verifier of password with a fresh random salt,
// in PostgreSQL's format.
func ScramVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generating a salt: %w", err)
	}
	return scramVerifierWith(password, salt, scramIterations)
}

// scramVerifierWith builds the verifier as src/common/scram-common.c scram_build_secret
// does, following RFC 5802 section 3:
//
//	SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)
//	StoredKey      = SHA-256(HMAC(SaltedPassword, "Client Key"))
//	ServerKey      = HMAC(SaltedPassword, "Server Key")
//	verifier       = SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>  (base64)
func scramVerifierWith(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("deriving the salted password: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(iterations) + ":" + b64(salt) + "$" + b64(storedKey[:]) + ":" + b64(serverKey), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// verifierPattern is the shape of every verifier scramVerifierWith builds: digits and
// base64 only, so it can be written as an SQL string literal without escaping.
var verifierPattern = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)

// verifierLiteral is verifier as an SQL string literal. ALTER ROLE takes no bind
// parameters (it is a utility statement), so the literal is checked rather than escaped.
func verifierLiteral(verifier string) (string, error) {
	if !verifierPattern.MatchString(verifier) {
		return "", errors.New("internal error: a SCRAM verifier of an unexpected shape")
	}
	return "'" + verifier + "'", nil
}
