package database

// ScramVerifierWith lets the external tests compare a verifier with PostgreSQL's own.
var ScramVerifierWith = scramVerifierWith
