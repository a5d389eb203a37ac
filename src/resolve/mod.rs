pub mod net;
pub mod version;
