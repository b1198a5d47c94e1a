//! Kubernetes vocabulary, shared by every stage: object identity, field
//! managers (`managedFields`), and the one object selector (kustomize target
//! shape, Kubernetes label selectors).

pub mod managed;
pub mod object;
pub mod selector;
