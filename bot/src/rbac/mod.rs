//! Role-based access control.
mod subject;
pub use subject::{Subject, SubjectError};
