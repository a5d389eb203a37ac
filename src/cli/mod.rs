//! Pieces of the command line that are not the compile pipeline: `tcpc init`, writing an
//! identity file, the key-file hygiene of `tcpc import`, the change summary of `tcpc render`.
//! All of it is IO at the edge; nothing here is reached by `tcpc::compile`.

pub mod init;
pub mod keyfiles;
pub mod summary;
