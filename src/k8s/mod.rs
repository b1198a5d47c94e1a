//! Kubernetes vocabulary, shared by every stage: object identity, field
//! managers (`managedFields`), and label selectors.

pub mod managed;
pub mod object;
pub mod selector;
