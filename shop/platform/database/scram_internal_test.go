package database

import (
	"strings"
	"testing"
)

func TestScramVerifierWith(t *testing.T) {
	// Computed by PostgreSQL 15.20 (SET password_encryption = 'scram-sha-256'; CREATE ROLE
	// golden PASSWORD 'correct-horse-battery-staple'; SELECT rolpassword FROM pg_authid),
	// then its salt given back to ours.
	const golden = "SCRAM-SHA-256$4096:CItQVHIzsJfHuFtmEG3RjA==$ql2wVq+9+zKn12FKY9RIiXtPxCZMtyb8g4g/b46cf80=:UIb17fvZ5+Qmxz4Bhz9vdu49JeB2T2C+mZtoKDMnhwU="
	salt := []byte{0x08, 0x8b, 0x50, 0x54, 0x72, 0x33, 0xb0, 0x97, 0xc7, 0xb8, 0x5b, 0x66, 0x10, 0x6d, 0xd1, 0x8c}
	got, err := scramVerifierWith("correct-horse-battery-staple", salt, 4096)
	if err != nil || got != golden {
		t.Errorf("got %s, %v\nwant %s", got, err, golden)
	}

	a, err := ScramVerifier("correct-horse-battery-staple")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ScramVerifier("correct-horse-battery-staple")
	if a == b || !strings.HasPrefix(a, "SCRAM-SHA-256$4096:") || strings.Contains(a, "horse") {
		t.Errorf("two verifiers of one password must differ by their salt: %s, %s", a, b)
	}
	if _, err := verifierLiteral(a); err != nil {
		t.Error(err)
	}
	if _, err := verifierLiteral("SCRAM-SHA-256$4096:x$y:z'; DROP TABLE users; --"); err == nil {
		t.Error("a verifier with a quote became a literal")
	}
}

func TestCheckPassword(t *testing.T) {
	tests := map[string]struct {
		password string
		ok       bool
	}{
		"32 alphanumerics, as the operator generates": {"Zk3mQ9xV2pL7wR4tY8uN1bC6dF0gH5jS", true},
		"printable punctuation":                       {`p@ss/w"rd\with:all;sorts!#`, true},
		"shorter than 16":                             {"short-password1", false},
		"longer than 256":                             {strings.Repeat("a", 257), false},
		"a space":                                     {"correct horse battery staple", false},
		"a trailing newline":                          {"correct-horse-battery-staple\n", false},
		"non-ASCII (SASLprep would change it)":        {"correct-horse-battery-stäple", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := CheckPassword(tt.password)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckPassword: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), tt.password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
