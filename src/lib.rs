//! tcpc — the TenantControlPlane compiler.
//!
//! The pipeline, top to bottom (one module per stage):
//!
//! ```text
//! discover (IO) → parse → resolve → pki → render (templates) → check (typed) → emit (IO)
//! ```
//!
//! Everything between the two IO edges is pure: no file system, no clock, no randomness except
//! what [`render`] is handed.

pub mod check;
pub mod crd;
pub mod diag;
pub mod discover;
pub mod emit;
pub mod parse;
pub mod resolve;
pub mod source;
