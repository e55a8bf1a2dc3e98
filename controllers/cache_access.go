/*
Copyright 2026 The Storefront Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

// CacheUserAccessString is the ACL access string of the shop's ElastiCache user: exactly
// what the shop sends, and what shops of older images send (CacheUserLegacyGrants),
// nothing more (docs/architecture.md, "The shop's cache").
//
//   - on: the user may log in (ElastiCache takes on/off in the access string and the
//     password from the User's own field; "reset" and passwords are refused there).
//   - ~shop:* and &shop:*: every key and the one invalidation channel the shop uses
//     start with "shop:<12 hex of the database>:"; no key carries a hash tag, so the
//     keys spread over the slots. A new user has no channel rights (Redis 7's
//     acl-pubsub-default is resetchannels), so &shop:* is the only channel grant.
//   - -@all, then one command at a time:
//   - getrange, set, incr, publish, subscribe: the cache's data commands
//     (shop/platform/cache): one GETRANGE (a read bounded by the largest value the
//     cache writes there: Redis is untrusted, and a GET of a planted 512 MB value
//     allocates 512 MB in the shop) or SET per entry, INCR and PUBLISH to invalidate,
//     SUBSCRIBE to follow the other replicas (closing the connection ends it: no
//     UNSUBSCRIBE).
//   - get: shops of older images read with GET, and a shop of this image falls back to
//     it when refused GETRANGE (an operator older than this one); see
//     CacheUserLegacyGrants.
//   - hello: go-redis v9 opens every connection with HELLO 3 and the credentials
//     (redis.go, baseClient.initConn); ping: its pub/sub health check
//     (pubsub.go, PubSub.Ping) and the shop's start-up check.
//   - cluster|slots: the shop's slot map (shop/platform/cache.clusterSlots, the
//     ClusterSlots of go-redis's ClusterClient); command: go-redis's ClusterClient
//     reads COMMAND once for its routing policies (osscluster.go, cmdsInfo).
//
// The shop's tests run it against a server whose shop user has exactly this string less
// CacheUserLegacyGrants and check that nothing is refused and every grant is used
// (shop/api, TestTheShopUsesExactlyItsAccessString). Not granted, because the shop never
// sends them: CLIENT SETNAME (no ClientName), CLIENT SETINFO (DisableIdentity), CLIENT MAINT_NOTIFICATIONS (disabled), READONLY (no replica
// reads), CLUSTER SHARDS/NODES/INFO and INFO (the slot map comes from CLUSTER SLOTS alone),
// AUTH (HELLO carries the credentials), SELECT (cluster mode has one database), and
// everything that reads or writes keys in bulk (KEYS, SCAN, MGET, DEL, FLUSHALL).
const CacheUserAccessString = "on ~shop:* &shop:* -@all +get +getrange +set +incr +publish +subscribe +ping +hello +command +cluster|slots"

// CacheUserLegacyGrants are the grants of CacheUserAccessString that the current shop
// image does not use, kept for shops of older images during an upgrade (the operator may
// be upgraded before or after the shops): GET, which those shops read with. Remove them
// when no supported shop image sends the command. test/testenv gives its shop user the
// access string without them (testenv.ShopAccessString).
const CacheUserLegacyGrants = "+get"
