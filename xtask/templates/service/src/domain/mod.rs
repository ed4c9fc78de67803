//! Domain of the {{name}} service, free of frameworks.

mod note;

pub use note::{Note, NoteText};
