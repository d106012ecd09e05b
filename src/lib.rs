//! sasl-oauth: OAuth 2.0 SASL mechanisms for Cyrus SASL.
//!
//! Layers (see docs/architecture.md §1): `ffi` is the only unsafe code and the only
//! place that knows C types; `server`/`client` are pure state machines;
//! `protocol` parses and builds wire messages without I/O; `validate` checks
//! tokens and is the only place that reads files.
#![deny(unsafe_code)]

pub mod client;
pub mod client_auth;
pub mod config_file;
pub mod error;
pub mod http;
pub mod options;
pub mod protocol;
pub mod runtime;
pub mod secret;
pub mod secure_env;
pub mod server;
pub mod token;
pub mod url_policy;
pub mod validate;
pub mod version;

#[allow(unsafe_code)]
pub mod ffi;
