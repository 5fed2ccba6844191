//! Identity-provider tokens: RS256/ES256 JWTs verified against a JWKS served by a real HTTP
//! server in the test (real keys, real signatures), with the fetches it answers counted. First
//! the verifier through its public API, then the whole gateway with `[auth]` set.

#[path = "../common/mod.rs"]
mod common;

// `gateway.rs` (the end-to-end tests) joins with `mod gateway;` once `Gateway::open` builds the
// `Authenticator` from `config.auth`.
mod idp;
mod verifier;
