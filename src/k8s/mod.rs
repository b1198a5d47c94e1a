//! Kubernetes vocabulary, shared by every stage: object identity, field
//! managers (`managedFields`), the one object selector (kustomize target
//! shape, Kubernetes label selectors), which kinds are cluster-scoped, and
//! the one way to build a client for a cluster.

pub mod client;
pub mod kubeconfig;
pub mod managed;
pub mod object;
pub mod scope;
pub mod selector;
