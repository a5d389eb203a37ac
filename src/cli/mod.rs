//! Pieces of the command line that are not the compile pipeline: `tcpc init`, writing an
//! identity file, the key-file hygiene of `tcpc import`, the change summary of `tcpc render`,
//! `tcpc diff`/`check` reports, Argo CD plugin mode and `tcpc install`.
//! All of it is IO at the edge; nothing here is reached by `tcpc::compile`.

pub mod argocd;
pub mod diff;
pub mod incremental;
pub mod init;
pub mod install;
pub mod keyfiles;
pub mod summary;
pub mod token;
pub mod uptodate;
