//! The input files of one run, held in memory.
//!
//! Files are identified by [`SourceId`]; their order is the sorted order of their relative
//! paths, so ids are stable for a given tree. Paths reach the output only as the
//! `tcpc.dev/source` annotation (object metadata, never a pod template, so renaming an input file
//! changes that annotation and nothing else); ids never do.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub u32);

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as shown to users (relative to the repository root, `/`-separated).
    pub display: String,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, display: String, text: String) -> SourceId {
        self.files.push(SourceFile { display, text });
        SourceId(u32::try_from(self.files.len() - 1).expect("fewer than 2^32 files"))
    }

    pub fn get(&self, id: SourceId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (SourceId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (SourceId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
