//! Role-based access control: who may run which command on which service, where, and
//! which commands need a second person's approval.

mod grant;
mod policy;
mod subject;

pub use grant::{CommandSet, Grant, NamePatterns};
pub use policy::{ApprovalRule, Authorization, Policy, PolicyError};
pub use subject::{Subject, SubjectError};

#[cfg(test)]
mod matrix_tests;
